// The ring's command-line options, declared once for every command that runs a ring: they fill
// an engine::RingOptions directly. Commands differ only in which groups they take and in their
// defaults (set on the options before registering; --help shows them).
#pragma once

#include <CLI/CLI.hpp>

#include "engine/ring.h"

namespace ll::cli {

enum class RingFlagSet {
  kDevices,  // which devices and how to profile them (profile, plan)
  kBench,    // kDevices + cut points and the calibration trial (bench: placements are its own)
  kFull,     // every option (run, serve)
};

// `threads_flag`: the name of the per-device threads option ("--threads-per-device"; bench,
// whose single-device run uses the same count, calls it "-t,--threads"). `min_devices`: 0 where
// a command may run without a ring (bench, plan).
void RegisterRingFlags(CLI::App& cmd, engine::RingOptions& o, RingFlagSet set,
                       const std::string& threads_flag = "--threads-per-device",
                       int min_devices = 1);

}  // namespace ll::cli
