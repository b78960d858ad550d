// expect: compressed<Codec> needs a codec satisfying kvforge::compression_codec
#include <kvforge/kvforge.hpp>
kvforge::store<std::string, std::string, kvforge::file_log, kvforge::compressed<std::string>> db;
