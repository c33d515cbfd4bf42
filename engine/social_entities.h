// Hashtags and cashtags as X/Twitter finds them (the rules of twitter-text's extractor, which
// tests/engine_social_entities_test.cc checks on all of its hashtag and cashtag conformance
// cases): what the window summaries count as a post's hashtags.
//
// Hashtag: '#' or fullwidth '＃', not after '&' or a hashtag character, not followed by U+FE0F or
// U+20E3 (keycap emoji), then a run of hashtag characters (letters, marks, decimal digits of any
// script, '_', ZWNJ, ZWJ and the joiners ·, ־, ׳, ״, ꙾, ～, 〜, ゛, ゜, ゠, ・, 〃, ་, ༌) holding at
// least one letter or mark ("#1" is not a hashtag). It is dropped when "#", "＃" or "://"
// follows it, or when it is part of a link ("twitter.com/#x").
// Cashtag: '$' at the start of the text or after white space, 1-6 ASCII letters, optionally '.'
// or '_' and 1-2 more, followed by the end, white space or ASCII punctuation ("$TEST.T", not
// "$10", "$株", "x$AB").
//
// Pure and thread-safe; no allocation once `out` has capacity.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace brandpulse {

struct SocialEntity {
  uint32_t begin = 0;  // byte offsets of the whole entity, sign included ("#tag", "$TEST")
  uint32_t end = 0;
  bool cashtag = false;
};

// Appends every hashtag and cashtag of `text`, in text order, to `out` (not cleared).
void ExtractSocialEntities(std::string_view text, std::vector<SocialEntity>& out);

// Unicode general category L* or M* / Nd (Unicode 15, from ICU).
bool IsLetterOrMark(uint32_t code_point);
bool IsDecimalDigit(uint32_t code_point);

}  // namespace brandpulse
