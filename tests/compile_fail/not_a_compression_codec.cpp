// expect: the codec does not satisfy kvforge::compression_codec
#include <kvforge/kvforge.hpp>
#include <string>
struct not_a_codec {};  // no name, no bound, no compress or decompress
void compress_with_it(std::string& out) { kvforge::compress_value(not_a_codec{}, "value", out); }
