// Stores for the command-line tool's test that the tool cannot make itself: keys and
// values of other codecs, and a store held open by another process.
//
//   make_stores DIR    writes DIR/numbers (uint64 keys, double values, with the MANIFEST
//                      the store writes), DIR/signed (int32 keys, made a store of format 1,
//                      as kvforge 0.1.0 wrote them, with no MANIFEST) and DIR/points (a codec
//                      of this program's own, unknown to the tool; format 1 too) and DIR/packed
//                      (values compressed by a codec of this program's own, which the tool
//                      cannot decompress) and DIR/sessions (expiring<>, mmap_file with a
//                      sorted index: "forever" without a deadline, "live" with one two hours
//                      ahead, "expired" with one that has passed)
//   make_stores hold DIR   opens the store in DIR, prints "open", and holds it until stdin closes
//   make_stores hold-read DIR   as hold, opening it read-only (beside other readers)
//   make_stores expiry DIR   prints each key of the expiring store in DIR with its deadline,
//                      "KEY<TAB>NANOSECONDS" since the Unix epoch or "KEY<TAB>none", as
//                      the library's expiry() gives it

#include <kvforge/kvforge.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "../support/behind_system_clock.hpp"
#include "../support/run_length_codec.hpp"

namespace {

/// A type whose codec the tool does not know: it shows its bytes in hex.
struct point {
    std::uint16_t x = 0;
    std::uint16_t y = 0;
};

}  // namespace

template <>
struct kvforge::codec<point> {
    static std::string name() { return "point.v1"; }
    static std::string_view encode(const point& p, std::string& scratch) {
        scratch = {static_cast<char>(p.x >> 8), static_cast<char>(p.x), static_cast<char>(p.y >> 8),
                   static_cast<char>(p.y)};
        return scratch;
    }
    static bool decode(std::string_view bytes, point& out) {
        if (bytes.size() != 4) return false;
        const auto byte = [&](std::size_t i) { return static_cast<std::uint16_t>(static_cast<unsigned char>(bytes[i])); };
        out = {static_cast<std::uint16_t>(byte(0) << 8 | byte(1)), static_cast<std::uint16_t>(byte(2) << 8 | byte(3))};
        return true;
    }
};

namespace {

/// Makes a closed store of one segment one of kvforge 0.1.0: its data file in format 1 (a
/// 32-byte header before the same records, which carry no flags), and no MANIFEST, no
/// hint and no list of segments, which that release did not write. A format 2 store without its
/// MANIFEST is refused as one that lost it.
void make_format1(const std::string& directory) {
    namespace fs = std::filesystem;
    using kvforge::detail::file_header;
    const std::string data = directory + "/data-0000000001.kvlog";
    std::ifstream in(data, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), {}};
    in.close();
    file_header header;
    if (file_header::decode(bytes, kvforge::detail::file_kind::data, header) != file_header::problem::none) {
        std::fprintf(stderr, "make_stores: %s has no format 2 header\n", data.c_str());
        std::exit(1);
    }
    header.version = 1;
    header.file_id = 0;
    char v1[file_header::size];
    header.encode(v1);
    std::ofstream out(data, std::ios::binary | std::ios::trunc);
    out.write(v1, file_header::v1_size);
    out.write(bytes.data() + file_header::size, static_cast<std::streamsize>(bytes.size() - file_header::size));
    out.close();
    fs::remove(directory + "/" + std::string(kvforge::detail::manifest_file_name));
    fs::remove(directory + "/data-0000000001.kvhint");
    fs::remove(directory + "/SEGMENTS");
}

}  // namespace

int main(int argc, char** argv) {
    const bool hold = argc == 3 && std::strcmp(argv[1], "hold") == 0;
    const bool hold_read = argc == 3 && std::strcmp(argv[1], "hold-read") == 0;
    if (hold || hold_read) {
        kvforge::options opts;
        opts.read_only = hold_read;
        kvforge::store<std::string, std::string, kvforge::file_log> db(argv[2], opts);
        std::puts("open");
        std::fflush(stdout);
        while (std::getchar() != EOF) {
        }
        return 0;
    }
    if (argc == 3 && std::strcmp(argv[1], "expiry") == 0) {
        kvforge::options opts;
        opts.read_only = true;
        // The files of file_log and mmap_file are the same: one store type reads either.
        const kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index, kvforge::buffered<>,
                             kvforge::single_thread, kvforge::expiring<>>
            db(argv[2], opts);
        db.for_each([&](const std::string& key, const std::string&) {
            const auto deadline = db.expiry(key);
            const std::string shown =
                deadline
                    ? std::to_string(
                          std::chrono::duration_cast<std::chrono::nanoseconds>(deadline->time_since_epoch()).count())
                    : "none";
            std::printf("%s\t%s\n", key.c_str(), shown.c_str());
        });
        return 0;
    }
    if (argc != 2) {
        std::fprintf(stderr,
                     "usage: make_stores DIR | make_stores hold DIR | make_stores hold-read DIR | make_stores expiry "
                     "DIR\n");
        return 2;
    }
    const std::string dir = argv[1];
    {
        kvforge::store<std::uint64_t, double, kvforge::mmap_file, kvforge::sorted_index, kvforge::sync_each> numbers(
            dir + "/numbers");
        for (std::uint64_t i = 1; i <= 100; ++i) numbers.put(i * 10, static_cast<double>(i) / 4);
    }
    {
        kvforge::store<std::int32_t, std::string, kvforge::file_log> signed_keys(dir + "/signed");
        for (const std::int32_t key : {-5, 3, -1000, 70000}) signed_keys.put(key, "v" + std::to_string(key));
    }
    make_format1(dir + "/signed");
    {
        kvforge::store<point, std::string, kvforge::file_log> points(dir + "/points");
        points.put(point{1, 2}, "one-two");
        points.put(point{258, 0}, "far");
    }
    make_format1(dir + "/points");
    {
        using packed_store =
            kvforge::store<std::string, std::string, kvforge::file_log, kvforge::compressed<kvforge_test::run_length<>>>;
        packed_store packed(dir + "/packed");
        packed.put("k", std::string(100, 'z'));
    }
    {
        // Its clock runs an hour behind system_clock under system_clock's name, so that the
        // tool (expiring<>) finds "expired" past its deadline.
        using behind = kvforge_test::behind_system_clock;
        kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index,
                       kvforge::expiring<behind>>
            sessions(dir + "/sessions");
        sessions.put("expired", "gone", behind::now() + std::chrono::minutes(1));
        sessions.put("live", "here", behind::now() + std::chrono::hours(2));
        sessions.put("forever", "always");
    }
    std::puts("written");
    return 0;
}
