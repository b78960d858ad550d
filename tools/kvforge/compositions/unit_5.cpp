// Unit 5 of the tool's compositions (compositions.hpp).
#include "../compositions.hpp"

#include <kvforge/open_store.hpp>

template struct kvforge::detail::composition_openers<std::string, std::string, kvforge_tool::tool_compositions, 5>;
