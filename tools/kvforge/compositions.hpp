#pragma once
// The compositions the tool opens files with, kvforge::compressed_compositions, compiled in
// units of their own (compositions/unit_N.cpp) that two cores build side by side: compiling
// them is most of the tool's build. tool_store.cpp, which calls open_store, declares them here.

// GCC 12 at -O1 reports std::jthread's stop_source as maybe used uninitialized when it
// inlines these compositions (a false positive of the standard library's header, not of
// kvforge's code).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <kvforge/compression/compositions.hpp>
#include <kvforge/runtime/composition_openers.hpp>

#include <string>

namespace kvforge_tool {
using tool_compositions = kvforge::compressed_compositions;
}  // namespace kvforge_tool

static_assert(kvforge::detail::composition_units<kvforge_tool::tool_compositions> == 5,
              "one compositions/unit_N.cpp per unit");
extern template struct kvforge::detail::composition_openers<std::string, std::string, kvforge_tool::tool_compositions, 0>;
extern template struct kvforge::detail::composition_openers<std::string, std::string, kvforge_tool::tool_compositions, 1>;
extern template struct kvforge::detail::composition_openers<std::string, std::string, kvforge_tool::tool_compositions, 2>;
extern template struct kvforge::detail::composition_openers<std::string, std::string, kvforge_tool::tool_compositions, 3>;
extern template struct kvforge::detail::composition_openers<std::string, std::string, kvforge_tool::tool_compositions, 4>;
