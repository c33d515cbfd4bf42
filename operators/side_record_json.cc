#include "operators/side_record_json.h"

#include <fmt/format.h>

#include "engine/json_writer.h"

namespace brandpulse {

void AppendSideRecordJson(const SideRecord& record, std::string& out) {
  out.push_back('{');
  AppendJsonKey(out, "reason", true);
  AppendJsonString(out, record.reason);
  if (record.kind == SideRecord::Kind::kDeadLetter) {
    AppendJsonKey(out, "source");
    AppendJsonString(out, record.source_id);
    out += fmt::format(",\"position\":{}", record.position);
    if (IsValidUtf8(record.record)) {
      AppendJsonKey(out, "record");
      AppendJsonString(out, record.record);
    } else {
      AppendJsonKey(out, "record_base64");
      AppendJsonString(out, EncodeBase64(record.record));
    }
  } else {
    AppendJsonKey(out, "post_id");
    AppendJsonString(out, record.post_id);
    AppendJsonKey(out, "event_time");
    AppendJsonString(out, FormatIsoTime(record.event_time_ms));
    AppendJsonKey(out, "watermark");
    AppendJsonString(out, FormatIsoTime(record.watermark_ms));
    AppendJsonKey(out, "record");
    AppendJsonString(out, record.record);
  }
  out.push_back('}');
}

}  // namespace brandpulse
