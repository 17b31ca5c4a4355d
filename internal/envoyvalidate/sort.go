package envoyvalidate

import (
	"fmt"
	"sort"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// sortMapKeys orders map keys so that errors come out in a stable order.
func sortMapKeys(keys []protoreflect.MapKey) {
	sort.Slice(keys, func(i, j int) bool {
		return fmt.Sprint(keys[i].Interface()) < fmt.Sprint(keys[j].Interface())
	})
}
