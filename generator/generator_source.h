// The synthetic firehose as a pipeline source (`source: {type: generator}`): one partition,
// positions are record counts, Seek regenerates and skips. A test and demo tool: it lives outside
// the production libraries, and programs that offer it register it (RegisterGeneratorOperators).
#pragma once

#include <memory>
#include <vector>

#include "engine/source.h"
#include "generator/firehose_generator.h"
#include "operators/registry.h"
#include "operators/watchlist.h"

namespace brandpulse {

Result<std::unique_ptr<Source>> MakeGeneratorSource(const GeneratorSpec& spec);

// The watchlist's terms, handles ('@') and hashtags ('#') as the generator inserts them.
std::vector<GeneratedBrand> GeneratedBrandsFrom(const WatchlistSpec& watchlist);

// `source: {type: generator, format, count, seed, ...}`; brands come from the pipeline's watchlist.
Result<std::unique_ptr<SourceSpec>> ReadGeneratorSource(YamlMap& section,
                                                        const ConfigContext& context);

// Adds the `generator` source type to `registry`.
void RegisterGeneratorOperators(OperatorRegistry& registry);

}  // namespace brandpulse
