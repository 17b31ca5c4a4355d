// Command image builds berth's OCI image as a tarball without a container
// runtime: one layer holding the static berth binary at /berth, no base
// image, run as a non-root user, tagged with the chart's default image name.
//
//	make image   # bin/berth-image.tar, loadable with docker load / podman load / crane push
//
// It is its own module so that go-containerregistry stays out of berth's.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// nonRoot is the uid and gid the image runs as (distroless' "nonroot").
const nonRoot = 65532

func main() {
	binary := flag.String("binary", "bin/berth", "static berth binary (linux)")
	tag := flag.String("tag", "", "image reference, e.g. ghcr.io/berth-gateway/berth:0.1.0")
	out := flag.String("o", "bin/berth-image.tar", "output tarball")
	arch := flag.String("arch", "amd64", "GOARCH of the binary")
	flag.Parse()
	if err := run(*binary, *tag, *out, *arch); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(binary, tag, out, arch string) error {
	if tag == "" {
		return fmt.Errorf("-tag is required")
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		return err
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	// A fixed time keeps the image reproducible.
	epoch := time.Unix(0, 0)
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	if err := tw.WriteHeader(&tar.Header{Name: "berth", Mode: 0o755, Size: int64(len(bin)), Uid: 0, Gid: 0, ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(bin); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	data := layerTar.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Created = "linux", arch, v1.Time{Time: epoch}
	cfg.Config.Entrypoint = []string{"/berth"}
	cfg.Config.User = fmt.Sprintf("%d:%d", nonRoot, nonRoot)
	cfg.Config.Labels = map[string]string{"org.opencontainers.image.source": "https://github.com/berth-gateway/berth"}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	if err := tarball.WriteToFile(out, ref, img); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s -> %s\n", ref, digest, out)
	return nil
}
