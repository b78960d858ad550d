#pragma once
// Keys numbered in their sort order ("key00042"), for tests that check scan order.

#include <cstdio>
#include <string>

namespace kvforge_test {

/// "key" and i in five digits: keys sort as their numbers do for i below 100000.
inline std::string key_of(int i) {
    char key[16];
    std::snprintf(key, sizeof key, "key%05d", i);
    return key;
}

}  // namespace kvforge_test
