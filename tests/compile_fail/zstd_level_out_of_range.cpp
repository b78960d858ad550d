// expect: zstd<Level> takes a level from 1 (fastest) to 22 (smallest)
#include <kvforge/compression/zstd.hpp>
kvforge::zstd<23> codec;
