// expect: a compressed store keeps them compressed there
#include <kvforge/kvforge.hpp>
struct identity_codec {
    static constexpr std::string_view name = "identity";
    std::size_t max_compressed_size(std::size_t size) const noexcept { return size; }
    std::size_t compress(std::string_view in, char* out, std::size_t) const { return in.copy(out, in.size()); }
    std::size_t decompress(std::string_view in, char* out, std::size_t) const { return in.copy(out, in.size()); }
};
int main() {
    kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::compressed<identity_codec>> db("unused");
    (void)db.get_view("a");
}
