#pragma once
// The compositions the tool opens files with, compiled in units of their own
// (compositions/unit_N.cpp) that two cores build side by side: compiling them is most of the
// tool's build. tool_store.cpp, which calls open_store, declares them here.
// kvforge::compressed_compositions, and file_log over disk_index: without a codec, with each
// of kvforge's three codecs (its blocks compressed whole), each of those with expiring<> too. A
// table store's files read the same whatever its durability and threading, and zstd's level is
// a setting, not a format. Forty-four fill six units.

// GCC 12 at -O1 reports std::jthread's stop_source as maybe used uninitialized when it
// inlines these compositions (a false positive of the standard library's header, not of
// kvforge's code).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <kvforge/compression/compositions.hpp>
#include <kvforge/index/disk_index.hpp>
#include <kvforge/runtime/composition_openers.hpp>

#include <string>

namespace kvforge_tool {
using tool_compositions = typename kvforge::detail::concat_lists<
    kvforge::compressed_compositions,
    kvforge::composition_list<
        kvforge::policies<kvforge::file_log, kvforge::disk_index>,
        kvforge::policies<kvforge::file_log, kvforge::disk_index, kvforge::compressed<kvforge::zstd<3>>>,
        kvforge::policies<kvforge::file_log, kvforge::disk_index, kvforge::compressed<kvforge::lz4>>,
        kvforge::policies<kvforge::file_log, kvforge::disk_index, kvforge::compressed<kvforge::zstd_trained<>>>,
        kvforge::policies<kvforge::file_log, kvforge::disk_index, kvforge::expiring<>>,
        kvforge::policies<kvforge::file_log, kvforge::disk_index, kvforge::compressed<kvforge::zstd<3>>,
                          kvforge::expiring<>>,
        kvforge::policies<kvforge::file_log, kvforge::disk_index, kvforge::compressed<kvforge::lz4>,
                          kvforge::expiring<>>,
        kvforge::policies<kvforge::file_log, kvforge::disk_index, kvforge::compressed<kvforge::zstd_trained<>>,
                          kvforge::expiring<>>>>::type;
}  // namespace kvforge_tool

static_assert(kvforge::detail::composition_units<kvforge_tool::tool_compositions> == 6,
              "one compositions/unit_N.cpp per unit");
extern template struct kvforge::detail::composition_openers<std::string, std::string, kvforge_tool::tool_compositions, 0>;
extern template struct kvforge::detail::composition_openers<std::string, std::string, kvforge_tool::tool_compositions, 1>;
extern template struct kvforge::detail::composition_openers<std::string, std::string, kvforge_tool::tool_compositions, 2>;
extern template struct kvforge::detail::composition_openers<std::string, std::string, kvforge_tool::tool_compositions, 3>;
extern template struct kvforge::detail::composition_openers<std::string, std::string, kvforge_tool::tool_compositions, 4>;
extern template struct kvforge::detail::composition_openers<std::string, std::string, kvforge_tool::tool_compositions,
                                                            5>;
