// The `match` operator. Every term, handle, hashtag and exclusion of every brand, and every term
// of every brand's query (operators/query.h, docs/queries.md), is compiled into ONE Hyperscan
// literal database over case-folded, accent-stripped bytes. A post's text is folded once into a
// reused buffer (engine/unicode.h: FoldCase keeps offsets; FoldAndStripAccents keeps a map back
// to the original bytes, and is skipped when the post has nothing to strip) and scanned once.
// Each hit is mapped back to the original text, checked for accents and case where the entry
// asks (one rule for plain terms, handles, hashtags, exclusions and query terms: an entry with
// accents is accent-exact, one without finds every accented spelling, {Exact} is byte-exact),
// and for word boundaries (UAX #29 word characters; an entry edge that is not a word character,
// such as '#' or '@', needs no boundary there). Text with combining marks is matched in NFC
// (engine/unicode.h ComposeCanonical; only such posts pay for it). Queries are then evaluated on
// the post's hit set; NEAR counts words only when both of its sides have a hit.
//
// Why not \b in the patterns: Hyperscan rejects \b together with UCP, and ASCII \b treats "å",
// "ñ" and "ó" as non-word bytes; measured on 10k patterns, \b also doubles scan cost and costs
// ~80x compile time. Why no HS_FLAG_SINGLEMATCH: a first hit that the boundary check rejects
// ("Telenorsk") must not hide a valid later one ("... Telenor").
//
// Measured on the demo watchlist (14 brands, 2 with queries, 221 patterns; 2-core VM shared with
// other builds, load ~4; generated en/no/es posts of ~123 bytes): compile ~8 ms, database ~97 KB,
// MatchPost ~1.0-1.5 us per post (the same loop on the code before queries: 0.37-0.52 us; the
// difference is mostly the accent-stripping pass, which most Norwegian/Spanish posts need).
// 1,000 brands with queries: 9,002 patterns, compile 0.17 s, 568 KB; 10,000: 90,002 patterns,
// compile 3.5 s, 4.9 MB, load from the cache 23-35 ms.
#pragma once

#include <memory>

#include "engine/transform.h"
#include "operators/compiled_watchlist.h"

namespace brandpulse {

// The `match` Transform (name() "match"). For each post of batch.posts, in post order, appends
// one Mention{post_index, brand_index, first_hit_begin, first_hit_end, own_post} per brand found
// in the post (MatchPost; brands of one post in brand index order) to batch.mentions; own_post
// is set when the post's author is one of the brand's own handles. Each worker's state
// holds its own Scanner. Returns Internal from Process() when a scan fails (a bug).
Result<std::unique_ptr<Transform>> MakeHyperscanMatch(
    std::shared_ptr<const CompiledWatchlist> watchlist);

}  // namespace brandpulse
