// expect: kvforge::redis_cluster spreads keys over hash slots and keeps no order across them
#include <kvforge/kvforge.hpp>
#include <kvforge/stores/redis_cluster.hpp>
kvforge::store<std::string, std::string, kvforge::redis_cluster, kvforge::sorted_index> db;
