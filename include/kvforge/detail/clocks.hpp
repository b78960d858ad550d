#pragma once
/// \file clocks.hpp
/// std::chrono's durations, time points and clocks, for headers that name a deadline and
/// nothing more of <chrono>.
///
/// Since C++20, <chrono> also brings calendars, time zones and their formatting; with
/// libstdc++ that is <sstream> and more, which costs a file more to compile than the
/// <string>, <optional>, <vector> and <map> it includes anyway. libstdc++ keeps the
/// clocks alone in <bits/chrono.h> (from GCC 11), which <chrono> itself includes; other
/// standard libraries get <chrono>.

#include <cstddef>  // defines __GLIBCXX__ under libstdc++

#if defined(__GLIBCXX__) && __has_include(<bits/chrono.h>)
#include <bits/chrono.h>
#else
#include <chrono>
#endif
