// expect: a batch's put() with a time to live needs the batch_type of a store with kvforge::expiring<>
#include <kvforge/kvforge.hpp>
#include <chrono>
int main() {
    kvforge::store<std::string, std::string>::batch_type b;
    b.put("k", "v", std::chrono::seconds(5));
}
