// kvforge::compiled: open_store<std::string, std::string> over the default compositions,
// and any_store<std::string, std::string>, compiled once (include/kvforge/compiled.hpp).
#define KVFORGE_INSTANTIATE_OPEN_STORE
#include <kvforge/kvforge.hpp>
