// The `match` operator. Every term, handle, hashtag and exclusion of every brand, and every term
// of every brand's query (operators/query.h, docs/queries.md), is one pattern of ONE Hyperscan
// literal database, compiled HS_FLAG_CASELESS from the folded, accent-stripped literal plus the
// spellings of its non-ASCII letters in their other cases ("Æ" for "æ"; a pattern with over 256
// such spellings makes non-ASCII posts fold first). A post with no accent to strip (most: ASCII,
// emoji, æ/ø, Greek) is scanned as it is, without any copy; a post with one (é, å, a combining
// mark) is scanned with those letters replaced by their base letter (StripAccentsForScan, a
// copy with a map back to the original bytes). Each hit is then judged on the original text:
// accents and case where the entry asks (one rule for plain terms, handles, hashtags,
// exclusions and query terms: an entry with accents is accent-exact, one without finds every
// accented spelling, {Exact} is byte-exact), and word boundaries (UAX #29 word characters,
// which case does not change; an entry edge that is not a word character, such as '#' or '@',
// needs no boundary there). Text with combining marks is matched in NFC (engine/unicode.h
// ComposeCanonical; only such posts pay for it). Queries are then evaluated on the post's hit
// set; NEAR counts words only when both of its sides have a hit.
//
// Why not \b in the patterns: Hyperscan rejects \b together with UCP, and ASCII \b treats "å",
// "ñ" and "ó" as non-word bytes; measured on 10k patterns, \b also doubles scan cost and costs
// ~80x compile time. Why no HS_FLAG_SINGLEMATCH: a first hit that the boundary check rejects
// ("Telenorsk") must not hide a valid later one ("... Telenor").
//
// Cost (callgrind, bench/matcher-cost.sh, the bench's 10k-brand watchlist and generated posts):
// see bench/RESULTS.md "Instruction counts of the matching stage".
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
