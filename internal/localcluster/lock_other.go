//go:build !unix

package localcluster

// lockFile is a no-op where flock does not exist: concurrent builds then
// each build into their own folder and the first complete rename wins.
func lockFile(string) (func(), error) { return func() {}, nil }
