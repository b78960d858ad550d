// expect: a batch's put() with a deadline needs the batch_type of a store with kvforge::expiring<>
#include <kvforge/kvforge.hpp>
#include <chrono>
int main() {
    kvforge::batch<std::string, std::string> b;
    b.put("k", "v", std::chrono::system_clock::now());
}
