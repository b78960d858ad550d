#include "store_files.hpp"

#include <kvforge/detail/data_file.hpp>
#include <kvforge/stores/log/engine.hpp>
#include <kvforge/stores/log/record_format.hpp>
#include <kvforge/detail/manifest_file.hpp>
#include <kvforge/detail/store_files.hpp>
#include <kvforge/io/posix.hpp>

#include <fcntl.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>

namespace kvforge_tool {

namespace {

namespace fs = std::filesystem;
using kvforge::detail::file_header;
using data_file = kvforge::detail::data_file<kvforge::posix_io>;

/// The names of every codec kvforge has built in, as codec<T>::name() gives them.
std::vector<std::string> built_in_codec_names() {
    std::vector<std::string> names = {"bytes", "float32.be", "float64.be"};
    for (const char* family : {"int", "uint"}) {
        for (const int bits : {8, 16, 32, 64}) names.push_back(family + std::to_string(bits) + ".be");
    }
    for (int size = 1; size <= 64; ++size) names.push_back("raw" + std::to_string(size));
    return names;
}

/// The newest data file of directory, or empty when it has none.
std::string newest_data_file(const std::string& directory, std::error_code& ec) {
    using kvforge::detail::store_file_name;
    std::uint32_t newest = 0;
    for (const auto& entry : fs::directory_iterator(directory, ec)) {
        const auto name = store_file_name::recognise(entry.path().filename().string());
        if (name && name->kind() == kvforge::detail::store_file_kind::data && !name->is_temporary()) {
            newest = std::max(newest, name->generation());
        }
    }
    if (ec || newest == 0) return {};
    return directory + "/" + store_file_name::data(newest).str();
}

bool read_header(kvforge::posix_io& io, const std::string& path, file_header& header, data_file& file,
                 std::error_code& ec) {
    if (!file.open(io, path, O_RDONLY, ec)) return false;
    char bytes[file_header::size];
    std::uint64_t size = 0;
    if (!file.size(size, ec)) return false;
    const auto available = static_cast<std::size_t>(std::min<std::uint64_t>(size, sizeof bytes));
    if (!file.read(0, bytes, available, ec)) return false;
    if (file_header::decode({bytes, available}, kvforge::detail::file_kind::data, header) !=
        file_header::problem::none) {
        kvforge::detail::fail(ec, kvforge::errc::corrupt_header,
                              path + ": the file header is damaged or not a kvforge data file's");
        return false;
    }
    return true;
}

}  // namespace

bool inspect_store(const std::string& directory, store_on_disk& out, std::error_code& ec) {
    out = store_on_disk{};
    std::error_code ignored;
    if (!fs::is_directory(directory, ignored)) return true;
    kvforge::posix_io io;
    if (!kvforge::detail::read_manifest_file(io, directory, out.composition, out.has_manifest, ec)) return false;
    if (out.has_manifest) {
        out.exists = true;
        out.codecs_known = true;
        return true;
    }
    const std::string path = newest_data_file(directory, ec);
    if (ec) {
        kvforge::detail::fail(ec, ec, "list " + directory + ": " + ec.message());
        return false;
    }
    if (path.empty()) return true;
    file_header header;
    data_file file;
    if (!read_header(io, path, header, file, ec)) return false;
    out.exists = true;
    out.composition.format = header.version;
    out.composition.codec_fingerprint = header.codec_fingerprint;
    out.composition.key_codec = "?";
    out.composition.value_codec = "?";
    // Format 1 records only the codecs' fingerprint: try every pair of built-in codecs.
    const std::vector<std::string> names = built_in_codec_names();
    for (const std::string& key : names) {
        for (const std::string& value : names) {
            if (kvforge::detail::codec_fingerprint(key, value) == header.codec_fingerprint) {
                out.composition.key_codec = key;
                out.composition.value_codec = value;
                out.codecs_known = true;
                return true;
            }
        }
    }
    return true;
}

bool is_empty_or_absent(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return !ec;
    return fs::is_directory(path, ec) && fs::is_empty(path, ec);
}

}  // namespace kvforge_tool
