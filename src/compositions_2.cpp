// kvforge::compiled: unit 2 of open_store's default compositions (include/kvforge/compiled.hpp).
#include <kvforge/kvforge.hpp>

template struct kvforge::detail::composition_openers<std::string, std::string, kvforge::default_compositions, 2>;
