// The synthetic firehose as a pipeline source (`source: {type: generator}`): one partition,
// positions are record counts, Seek regenerates and skips. A test and demo tool: it lives outside
// the production libraries and is registered by the programs that offer it.
#pragma once

#include <memory>

#include "engine/source.h"
#include "generator/firehose_generator.h"

namespace brandpulse {

Result<std::unique_ptr<Source>> MakeGeneratorSource(const GeneratorSpec& spec);

}  // namespace brandpulse
