#pragma once
// The kvforge tool's exit codes, as DESIGN.md and `kvforge --help` list them.

namespace kvforge_tool {

inline constexpr int exit_ok = 0;           ///< success
inline constexpr int exit_absent = 1;       ///< get or del: the key is not in the store
inline constexpr int exit_usage = 2;        ///< a usage error: unknown command or option, missing argument
inline constexpr int exit_store_error = 3;  ///< the store or a file failed; stderr names it and what to do
inline constexpr int exit_interrupted = 130;  ///< load stopped by SIGINT (128 + 2, as shells report it)

}  // namespace kvforge_tool
