// How the command line shows a build's progress on stderr.
#pragma once

#include "kiln/builder.h"

namespace kiln::cli {

// On a terminal: one line rewritten in place, "Building: tactics 37/53 layers,
// 12.4 s". Elsewhere (logs, CI): a line at the start, about every 10% and at
// the end. Both end with the totals (layers, timed, timing cache hits,
// seconds). `verbose` adds one line per layer with its tactic and time.
// Warnings print as "kiln: warning: ...".
BuildProgressFn make_build_progress_printer(bool verbose);

}  // namespace kiln::cli
