package render

import (
	"encoding/json"
	"reflect"

	"github.com/berth-gateway/berth/api/v1alpha1"
)

// mergeSpecs merges over onto base, field by field, the way a JSON merge
// patch of over's JSON onto base's would (RFC 7386, over's fields win):
// objects (structs and maps) merge key by key, a set field of any other kind
// (lists, scalars, and types with their own JSON form such as quantities)
// replaces base's. Neither input is modified or shared with the result.
func mergeSpecs(base, over *v1alpha1.EnvoyProxySpec) *v1alpha1.EnvoyProxySpec {
	out := base.DeepCopy()
	mergeValue(reflect.ValueOf(out).Elem(), reflect.ValueOf(over.DeepCopy()).Elem())
	return out
}

var jsonMarshaler = reflect.TypeFor[json.Marshaler]()

// atomic types merge as a whole: they have their own JSON form.
func atomic(t reflect.Type) bool {
	return t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler)
}

// mergeValue merges src into dst (settable, same type). src is owned by
// the caller and may be moved into dst.
func mergeValue(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Pointer:
		switch {
		case src.IsNil():
		case dst.IsNil() || src.Elem().Kind() != reflect.Struct || atomic(src.Elem().Type()):
			dst.Set(src)
		default:
			mergeValue(dst.Elem(), src.Elem())
		}
	case reflect.Struct:
		if atomic(src.Type()) {
			if !src.IsZero() {
				dst.Set(src)
			}
			return
		}
		for i := 0; i < src.NumField(); i++ {
			if src.Type().Field(i).IsExported() {
				mergeValue(dst.Field(i), src.Field(i))
			}
		}
	case reflect.Map:
		if src.Len() == 0 {
			return
		}
		if dst.IsNil() {
			dst.Set(src)
			return
		}
		iter := src.MapRange()
		for iter.Next() {
			dst.SetMapIndex(iter.Key(), iter.Value())
		}
	case reflect.Slice:
		if src.Len() > 0 {
			dst.Set(src)
		}
	default:
		if !src.IsZero() {
			dst.Set(src)
		}
	}
}
