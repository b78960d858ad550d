// kvforge::compiled: the common store types, compiled once (include/kvforge/compiled.hpp).
#define KVFORGE_INSTANTIATE_STORES
#include <kvforge/kvforge.hpp>
