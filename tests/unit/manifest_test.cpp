// The manifest's text: what it holds, and every way a damaged or foreign one is refused.

#include <catch2/catch.hpp>

#include <kvforge/manifest.hpp>

#include <string>

namespace {

kvforge::composition sample_composition() {
    kvforge::composition c;
    c.format = 2;
    c.store = "file_log";
    c.index = "sorted_index";
    c.durability = "buffered";
    c.key_codec = "bytes";
    c.value_codec = "uint64.be";
    c.codec_fingerprint = 0x0123456789abcdefULL;
    return c;
}

/// Replaces the first occurrence of from in text by to, and fixes the crc32c line.
std::string edited(std::string text, const std::string& from, const std::string& to) {
    text.replace(text.find(from), from.size(), to);
    const std::size_t crc_line = text.rfind("crc32c ");
    char crc[24];
    std::snprintf(crc, sizeof crc, "crc32c %08x\n",
                  static_cast<unsigned>(kvforge::detail::crc32c(std::string_view(text).substr(0, crc_line))));
    return text.substr(0, crc_line) + crc;
}

bool refused(const std::string& text, const std::string& expected_problem) {
    kvforge::composition out;
    std::string problem;
    const bool parsed = kvforge::detail::parse_manifest(text, out, problem);
    INFO("problem: " << problem);
    CHECK_THAT(problem, Catch::Contains(expected_problem));
    return !parsed;
}

}  // namespace

TEST_CASE("a manifest reads back as the composition it was written from", "[manifest]") {
    const std::string text = kvforge::detail::format_manifest(sample_composition());
    CHECK(text ==
          "kvforge-manifest 1\nformat 2\nstore file_log\nindex sorted_index\ndurability buffered\n"
          "key_codec bytes\nvalue_codec uint64.be\ncodec_fingerprint 0123456789abcdef\nexpiry none\n"
          "compression none\ncrc32c " +
              text.substr(text.size() - 9));
    kvforge::composition out;
    std::string problem;
    REQUIRE(kvforge::detail::parse_manifest(text, out, problem));
    CHECK(out == sample_composition());
}

TEST_CASE("a manifest that is damaged, cut short or from a newer kvforge is refused", "[manifest]") {
    const std::string text = kvforge::detail::format_manifest(sample_composition());
    std::string flipped = text;
    flipped[20] ^= 0x01;
    CHECK(refused(flipped, "fails its checksum"));
    CHECK(refused(text.substr(0, text.size() - 1), "crc32c line"));
    CHECK(refused(text.substr(0, 40), "crc32c line"));
    CHECK(refused("", "crc32c line"));
    CHECK(refused(edited(text, "kvforge-manifest 1", "kvforge-manifest 2"), "newer kvforge"));
    CHECK(refused(edited(text, "compression none\n", "compression none\nsegments 9\n"), "does not know"));
    CHECK(refused(edited(text, "index sorted_index\n", ""), "'durability buffered' where the field 'index'"));
    CHECK(refused(edited(text, "format 2", "format two"), "malformed format"));
    CHECK(refused(edited(text, "format 2", "format 99999999999"), "malformed format"));
    CHECK(refused(edited(text, "0123456789abcdef", "0123456789ABCDEF"), "malformed codec_fingerprint"));
    CHECK(refused(edited(text, "fingerprint 0123456789abcdef", "fingerprint 10123456789abcdef0"),
                  "malformed codec_fingerprint"));
}

TEST_CASE("a codec name that cannot stand in a manifest line gives no manifest", "[manifest]") {
    kvforge::composition c = sample_composition();
    c.value_codec = "two words";
    CHECK(kvforge::detail::format_manifest(c).empty());
    c.value_codec = "";
    CHECK(kvforge::detail::format_manifest(c).empty());
    c.value_codec = "line\nbreak";
    CHECK(kvforge::detail::format_manifest(c).empty());
}

TEST_CASE("only the fields that bind the bytes on disk must agree", "[manifest]") {
    const kvforge::composition on_disk = sample_composition();
    kvforge::composition opening = on_disk;
    opening.store = "mmap_file";
    opening.index = "hash_index";
    opening.durability = "sync_each";
    CHECK(kvforge::detail::first_binding_difference(on_disk, opening).empty());

    opening = on_disk;
    opening.value_codec = "bytes";
    CHECK(kvforge::detail::first_binding_difference(on_disk, opening) ==
          "value codec: written with 'uint64.be', opened with 'bytes'");
    opening = on_disk;
    opening.expiry = "system_clock";
    CHECK(kvforge::detail::first_binding_difference(on_disk, opening) ==
          "expiry: written with 'none', opened with 'system_clock'");
    opening = on_disk;
    opening.compression = "zstd";
    CHECK(kvforge::detail::first_binding_difference(on_disk, opening) ==
          "compression: written with 'none', opened with 'zstd'");
    opening = on_disk;
    opening.codec_fingerprint ^= 1;
    CHECK_THAT(kvforge::detail::first_binding_difference(on_disk, opening), Catch::Contains("fingerprints differ"));
}
