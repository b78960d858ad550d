// expect: kvforge::redis_cluster does not take kvforge::async_worker<>
#include <kvforge/kvforge.hpp>
#include <kvforge/stores/redis_cluster.hpp>
kvforge::store<std::string, std::string, kvforge::redis_cluster, kvforge::async_worker<>> db;
