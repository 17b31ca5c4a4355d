package translate

import (
	"sort"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	"google.golang.org/protobuf/types/known/structpb"

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
		format := &corev3.SubstitutionFormatString{}
		if l.Text != "" {
			format.Format = &corev3.SubstitutionFormatString_TextFormatSource{TextFormatSource: &corev3.DataSource{
				Specifier: &corev3.DataSource_InlineString{InlineString: l.Text},
			}}
		} else {
			fields := make(map[string]*structpb.Value, len(l.JSON))
			keys := make([]string, 0, len(l.JSON))
			for k := range l.JSON {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fields[k] = structpb.NewStringValue(l.JSON[k])
			}
			format.Format = &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: &structpb.Struct{Fields: fields}}
		}
		a := &accesslogv3.AccessLog{
			Name: fileAccessLogName,
			ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: mustAny(&filev3.FileAccessLog{
				Path:            l.Path,
				AccessLogFormat: &filev3.FileAccessLog_LogFormat{LogFormat: format},
			})},
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
