#pragma once
// `dida train --nproc N`: N local ranks of the same command, each a process of its own with the
// variables torchrun would set (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT),
// so that one machine trains data-parallel without a launcher.
#include <string>
#include <vector>

namespace dida::cli {

// The command line as given (main() records it): the ranks run it again.
void set_program_args(int argc, char** argv);

// Starts N ranks of the recorded command line without --nproc, --serve and the global --threads
// (each rank gets --threads `threads_per_rank`), forwards SIGINT and SIGTERM to them, waits for
// all and returns the first non-zero exit code (0 when every rank succeeded).
int run_local_ranks(int n, int threads_per_rank);

}  // namespace dida::cli
