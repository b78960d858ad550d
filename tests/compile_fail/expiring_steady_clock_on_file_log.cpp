// expect: std::chrono::steady_clock counts from the machine's boot
#include <kvforge/kvforge.hpp>
int main() {
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::expiring<std::chrono::steady_clock>> db("unused");
}
