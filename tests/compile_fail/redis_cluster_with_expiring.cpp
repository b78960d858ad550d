// expect: kvforge::redis_cluster does not take kvforge::expiring<> yet
#include <kvforge/kvforge.hpp>
#include <kvforge/stores/redis_cluster.hpp>
kvforge::store<std::string, std::string, kvforge::redis_cluster, kvforge::expiring<>> db;
