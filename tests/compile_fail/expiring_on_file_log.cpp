// expect: kvforge::expiring<> keeps its deadlines in memory stores only
#include <kvforge/kvforge.hpp>
int main() {
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::expiring<>> db("unused");
}
