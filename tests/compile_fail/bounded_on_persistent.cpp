// expect: kvforge::bounded<> bounds a kvforge::memory store
#include <kvforge/kvforge.hpp>
kvforge::store<std::string, std::string, kvforge::file_log, kvforge::bounded<>> db;
