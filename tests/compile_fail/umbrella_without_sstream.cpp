// expect: ostringstream
// kvforge.hpp brings no <sstream>: with libstdc++, C++20's <chrono> includes it for its
// calendars and time zones, which cost every including file time to compile, so kvforge's
// headers take their clocks from detail/clocks.hpp instead of <chrono>.
#include <kvforge/kvforge.hpp>
std::ostringstream out;
