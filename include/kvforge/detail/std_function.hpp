#pragma once
/// \file std_function.hpp
/// std::function, for headers that need it and nothing more of <functional>.
///
/// With libstdc++ in C++20, <functional> also brings std::bind, the searchers and with them
/// <unordered_map> and <array>, which a store's headers otherwise do without. libstdc++
/// keeps std::function alone in <bits/std_function.h> (from GCC 5), which <functional>
/// itself includes; other standard libraries get <functional>.

#include <cstddef>  // defines __GLIBCXX__ under libstdc++

#if defined(__GLIBCXX__) && __has_include(<bits/std_function.h>)
#include <bits/std_function.h>
#else
#include <functional>
#endif
