package translate

import (
	"sort"
	"strings"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/utils/lru"

	"github.com/berth-gateway/berth/xds/translate/model"
)

// Name of the file access logger.
const fileAccessLogName = "envoy.access_loggers.file"

// buildAccessLogs spells access logs as Envoy's file access loggers (nil
// for none). A NoRouteOnly log keeps what Envoy flags NR: no route for the
// request, or no filter chain for the connection.
func buildAccessLogs(logs []model.AccessLog) []*accesslogv3.AccessLog {
	if len(logs) == 0 {
		return nil
	}
	out := make([]*accesslogv3.AccessLog, 0, len(logs))
	for _, l := range logs {
		a := &accesslogv3.AccessLog{
			Name:       fileAccessLogName,
			ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: fileAccessLog(l)},
		}
		if l.NoRouteOnly {
			a.Filter = &accesslogv3.AccessLogFilter{FilterSpecifier: &accesslogv3.AccessLogFilter_ResponseFlagFilter{
				ResponseFlagFilter: &accesslogv3.ResponseFlagFilter{Flags: []string{"NR"}},
			}}
		}
		out = append(out, a)
	}
	return out
}

// fileAccessLogs holds packed file access loggers by their content: every
// Gateway of a controller usually logs alike (the default), and building
// and packing a JSON format costs some 120 allocations. The packed bytes
// are never modified, so resources may share them.
var fileAccessLogs = lru.New(256)

// fileAccessLog is the packed file access logger of l (its path and
// format).
func fileAccessLog(l model.AccessLog) *anypb.Any {
	keys := make([]string, 0, len(l.JSON))
	for k := range l.JSON {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var key strings.Builder
	key.WriteString(l.Path)
	key.WriteByte(0)
	key.WriteString(l.Text)
	for _, k := range keys {
		key.WriteByte(0)
		key.WriteString(k)
		key.WriteByte(0)
		key.WriteString(l.JSON[k])
	}
	if v, ok := fileAccessLogs.Get(key.String()); ok {
		return v.(*anypb.Any)
	}
	format := &corev3.SubstitutionFormatString{}
	if l.Text != "" {
		format.Format = &corev3.SubstitutionFormatString_TextFormatSource{TextFormatSource: &corev3.DataSource{
			Specifier: &corev3.DataSource_InlineString{InlineString: l.Text},
		}}
	} else {
		fields := make(map[string]*structpb.Value, len(l.JSON))
		for _, k := range keys {
			fields[k] = structpb.NewStringValue(l.JSON[k])
		}
		format.Format = &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: &structpb.Struct{Fields: fields}}
	}
	packed := mustAny(&filev3.FileAccessLog{
		Path:            l.Path,
		AccessLogFormat: &filev3.FileAccessLog_LogFormat{LogFormat: format},
	})
	fileAccessLogs.Add(key.String(), packed)
	return packed
}
