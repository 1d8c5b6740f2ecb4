// The readers under src/io: .npy/.npz, zip entries, the HDF5 snapshot, printable error text.
#include <hdf5.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>

#include <atomic>
#include <cstring>
#include <fstream>
#include <thread>

#include "format/weight_source.hpp"
#include "h5_writer.hpp"
#include "harness.hpp"
#include "io/hdf5.hpp"
#include "io/npy.hpp"
#include "io/text.hpp"
#include "io/zip.hpp"

namespace kerasrt::testing {
namespace {

// ---- helpers ---------------------------------------------------------------------------------

std::filesystem::path temp_dir(const std::string& tag) {
  auto p = std::filesystem::temp_directory_path() / ("kerasrt_io_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(p);
  return p;
}

std::vector<uint8_t> slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// A version-1 .npy with the given header dict and raw little-endian payload.
std::vector<uint8_t> npy(const std::string& dict, const std::vector<uint8_t>& payload, int version = 1) {
  std::string header = dict;
  size_t prefix = version == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(version), 0};
  for (size_t i = 0; i < prefix - 8; ++i) out.push_back(static_cast<uint8_t>((header.size() >> (8 * i)) & 0xff));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

template <typename T>
std::vector<uint8_t> raw(const std::vector<T>& values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::string dict(const std::string& descr, const std::string& shape) {
  return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
}

io::NpyArray parse(const std::vector<uint8_t>& bytes) { return io::parse_npy(bytes, "test.npy"); }

// ---- .npy ------------------------------------------------------------------------------------

TEST(Npy, IntegerAndBoolDtypes) {
  EXPECT_EQ(parse(npy(dict("|b1", "(3,)"), {1, 0, 1})).tensor.to_floats(), (std::vector<float>{1, 0, 1}));
  EXPECT_EQ(parse(npy(dict("|i1", "(2,)"), raw<int8_t>({-128, 127}))).tensor.to_floats(), (std::vector<float>{-128, 127}));
  EXPECT_EQ(parse(npy(dict("|u1", "(2,)"), raw<uint8_t>({0, 255}))).tensor.to_floats(), (std::vector<float>{0, 255}));
  EXPECT_EQ(parse(npy(dict("<i2", "(2,)"), raw<int16_t>({-300, 300}))).tensor.to_floats(), (std::vector<float>{-300, 300}));
  EXPECT_EQ(parse(npy(dict("<u2", "(1,)"), raw<uint16_t>({65535}))).tensor.to_floats(), (std::vector<float>{65535}));
  EXPECT_EQ(parse(npy(dict("<i4", "(2, 2)"), raw<int32_t>({1, -2, 3, -4}))).tensor.to_floats(),
            (std::vector<float>{1, -2, 3, -4}));
  EXPECT_EQ(parse(npy(dict("<u4", "(1,)"), raw<uint32_t>({4000000000u}))).tensor.to_floats(),
            (std::vector<float>{4000000000.f}));
  EXPECT_EQ(parse(npy(dict("<i8", "(2,)"), raw<int64_t>({-5, 1 << 20}))).tensor.to_floats(),
            (std::vector<float>{-5, 1 << 20}));
  EXPECT_EQ(parse(npy(dict("<u8", "(1,)"), raw<uint64_t>({7}))).tensor.to_floats(), (std::vector<float>{7}));
  // Each array keeps its kind of type: bools and bytes stay bytes, integers stay exact integers.
  EXPECT_EQ(parse(npy(dict("|b1", "(3,)"), {1, 0, 1})).tensor.dtype, DType::kBool);
  EXPECT_EQ(parse(npy(dict("|u1", "(2,)"), raw<uint8_t>({0, 255}))).tensor.dtype, DType::kUInt8);
  EXPECT_EQ(parse(npy(dict("<i2", "(2,)"), raw<int16_t>({-300, 300}))).tensor.dtype, DType::kInt32);
  auto big = parse(npy(dict("<i8", "(2,)"), raw<int64_t>({(int64_t{1} << 40) + 1, -((int64_t{1} << 53) + 3)}))).tensor;
  ASSERT_EQ(big.dtype, DType::kInt64);
  EXPECT_EQ(big.values<int64_t>()[0], (int64_t{1} << 40) + 1);
  EXPECT_EQ(big.values<int64_t>()[1], -((int64_t{1} << 53) + 3));
  EXPECT_EQ(io::parse_npy(io::encode_npy(big), "back.npy").tensor.values<int64_t>()[1], -((int64_t{1} << 53) + 3));
}

TEST(Npy, FloatDtypes) {
  auto f4 = parse(npy(dict("<f4", "(2, 3)"), raw<float>({0.5f, -1, 2, 3, 4, 5})));
  EXPECT_EQ(f4.tensor.shape, (Shape{2, 3}));
  EXPECT_EQ(f4.tensor.to_floats(), (std::vector<float>{0.5f, -1, 2, 3, 4, 5}));
  EXPECT_EQ(f4.dtype, "<f4");
  auto f8 = parse(npy(dict("<f8", "(2,)"), raw<double>({0.1, -1e10})));
  EXPECT_EQ(f8.tensor.to_floats(), (std::vector<float>{static_cast<float>(0.1), -1e10f}));
  // float16 bit patterns: 1.0, -2.0, 0.5, 65504 (largest), 2^-24 (smallest subnormal), +inf
  auto f2 = parse(npy(dict("<f2", "(6,)"), raw<uint16_t>({0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x7c00})));
  EXPECT_EQ(f2.tensor.floats()[0], 1.f);
  EXPECT_EQ(f2.tensor.floats()[1], -2.f);
  EXPECT_EQ(f2.tensor.floats()[2], 0.5f);
  EXPECT_EQ(f2.tensor.floats()[3], 65504.f);
  EXPECT_EQ(f2.tensor.floats()[4], std::ldexp(1.f, -24));
  EXPECT_TRUE(std::isinf(f2.tensor.floats()[5]));
}

TEST(Npy, ZeroDimensionalEmptyAndVersion2) {
  auto scalar = parse(npy(dict("<f4", "()"), raw<float>({3.5f})));
  EXPECT_TRUE(scalar.tensor.shape.empty());
  EXPECT_EQ(scalar.tensor.to_floats(), (std::vector<float>{3.5f}));
  auto empty = parse(npy(dict("<f4", "(0,)"), {}));
  EXPECT_EQ(empty.tensor.shape, (Shape{0}));
  EXPECT_TRUE(empty.tensor.to_floats().empty());
  auto empty3 = parse(npy(dict("<i4", "(2, 0, 3)"), {}));
  EXPECT_EQ(empty3.tensor.shape, (Shape{2, 0, 3}));
  auto v2 = parse(npy(dict("<f4", "(1,)"), raw<float>({2.f}), 2));
  EXPECT_EQ(v2.tensor.to_floats(), (std::vector<float>{2.f}));
}

TEST(Npy, EncodeThenParseRoundTrips) {
  for (const Shape& shape : {Shape{}, Shape{0}, Shape{4}, Shape{2, 3, 1}}) {
    Tensor t(shape);
    for (size_t i = 0; i < t.floats().size(); ++i) t.floats()[i] = static_cast<float>(i) * 0.25f - 1.f;
    auto back = parse(io::encode_npy(t));
    EXPECT_EQ(back.tensor.shape, shape);
    EXPECT_EQ(back.tensor.to_floats(), t.to_floats());
    EXPECT_EQ(back.dtype, "<f4");
  }
}

TEST(Npy, RefusesBadInputWithTheFileName) {
  auto refuses = [](const std::vector<uint8_t>& bytes, const std::string& why) {
    try {
      io::parse_npy(bytes, "bad.npy");
      ADD_FAILURE() << "accepted: " << why;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("bad.npy"), std::string::npos) << e.what();
    }
  };
  refuses({}, "empty");
  refuses({'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0}, "not npy");
  auto good = npy(dict("<f4", "(4,)"), raw<float>({1, 2, 3, 4}));
  refuses(std::vector<uint8_t>(good.begin(), good.begin() + 20), "truncated header");
  refuses(std::vector<uint8_t>(good.begin(), good.end() - 1), "truncated data");
  refuses(npy(dict(">f4", "(1,)"), raw<float>({1})), "big-endian");
  refuses(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", raw<float>({1, 2, 3, 4})), "fortran");
  refuses(npy(dict("<c8", "(1,)"), raw<float>({1, 2})), "complex");
  refuses(npy(dict("<U3", "(1,)"), raw<uint32_t>({65, 66, 67})), "unicode");
  refuses(npy(dict("|O", "(1,)"), raw<uint64_t>({0})), "object");
  // A header claiming a huge array must be refused before anything is allocated for it.
  refuses(npy(dict("<f4", "(100000000000, 100000000000)"), raw<float>({1})), "huge");
  refuses(npy(dict("<f8", "(1000000000,)"), raw<float>({1})), "claims more than it holds");
  refuses(npy("{'fortran_order': False, 'shape': (1,), }", raw<float>({1})), "no descr");
}

// ---- .npz and zip ----------------------------------------------------------------------------

TEST(Npz, WriteThenReadRoundTrips) {
  auto dir = temp_dir("npz");
  Tensor a({2, 2}, {1, 2, 3, 4});
  Tensor b({3}, {-1, 0.5f, 7});
  Tensor s({}, {42});
  io::write_npz((dir / "x.npz").string(), {{"a", a}, {"b:0", b}, {"scalar", s}});
  auto back = io::read_npz((dir / "x.npz").string());
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[0].first, "a");
  EXPECT_EQ(back[0].second.tensor.shape, a.shape);
  EXPECT_EQ(back[0].second.tensor.to_floats(), a.to_floats());
  EXPECT_EQ(back[1].first, "b:0");
  EXPECT_EQ(back[1].second.tensor.to_floats(), b.to_floats());
  EXPECT_TRUE(back[2].second.tensor.shape.empty());
  // The same bytes from memory.
  auto from_memory = io::read_npz(slurp(dir / "x.npz"), "mem.npz");
  ASSERT_EQ(from_memory.size(), 3u);
  EXPECT_EQ(from_memory[1].second.tensor.to_floats(), b.to_floats());
  std::filesystem::remove_all(dir);
}

// numpy's savez_compressed deflates each member.
TEST(Npz, ReadsDeflatedMembers) {
  auto dir = temp_dir("npzdeflate");
  std::string path = (dir / "c.npz").string();
  std::vector<float> values(1000, 0.25f);
  auto bytes = npy(dict("<f4", "(1000,)"), raw(values));
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr);
  zip_source_t* src = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
  zip_int64_t idx = zip_file_add(z, "x.npy", src, 0);
  ASSERT_GE(idx, 0);
  zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), ZIP_CM_DEFLATE, 9);
  ASSERT_EQ(zip_close(z), 0);
  EXPECT_LT(std::filesystem::file_size(path), bytes.size() / 4);  // really compressed
  auto back = io::read_npz(path);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].first, "x");
  EXPECT_EQ(back[0].second.tensor.to_floats(), values);
  std::filesystem::remove_all(dir);
}

TEST(Zip, EntriesSizesAndErrors) {
  auto dir = temp_dir("zip");
  std::string path = (dir / "a.zip").string();
  io::write_zip(path, {{"one.txt", {'h', 'i'}}, {"two.bin", std::vector<uint8_t>(100, 7)}});
  auto zip = io::ZipReader::from_file(path);
  EXPECT_EQ(zip.entries(), (std::vector<std::string>{"one.txt", "two.bin"}));
  EXPECT_TRUE(zip.has("one.txt"));
  EXPECT_FALSE(zip.has("three"));
  EXPECT_EQ(zip.read("one.txt", 10), (std::vector<uint8_t>{'h', 'i'}));
  EXPECT_THROW(zip.read("two.bin", 99), Error);  // over the caller's limit
  EXPECT_THROW(zip.read("missing", 1000), Error);
  // Truncated archives are refused when opened or read, never crash.
  auto bytes = slurp(path);
  for (size_t cut : {size_t{0}, size_t{3}, size_t{30}, bytes.size() / 2, bytes.size() - 10, bytes.size() - 1}) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    try {
      auto z = io::ZipReader::from_memory(part, "cut.zip");
      for (const auto& e : z.entries()) z.read(e, 1000);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cut.zip"), std::string::npos) << e.what();
    }
  }
  std::filesystem::remove_all(dir);
}

// A stored entry is read in place (a view into the archive, CRC-32 checked); a deflated one is
// inflated; both equal what read() copies out.
TEST(Zip, StoredEntriesAreReadInPlace) {
  auto dir = temp_dir("zipview");
  std::string path = (dir / "a.zip").string();
  std::vector<uint8_t> big(300000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7 + i / 251);
  io::write_zip(path, {{"first.txt", {'h', 'i'}}, {"weights.h5", big}, {"empty", {}}});
  const std::vector<uint8_t> bytes = slurp(path);
  auto zip = io::ZipReader::from_memory(bytes, "a.zip");
  for (const char* name : {"first.txt", "weights.h5", "empty"}) {
    io::SharedBytes view = zip.read_shared(name, 1 << 20);
    EXPECT_EQ(std::vector<uint8_t>(view.bytes.begin(), view.bytes.end()), zip.read(name, 1 << 20)) << name;
  }
  io::SharedBytes view = zip.read_shared("weights.h5", 1 << 20);
  ASSERT_EQ(view.bytes.size(), big.size());
  EXPECT_TRUE(std::equal(big.begin(), big.end(), view.bytes.begin()));
  EXPECT_THROW(zip.read_shared("weights.h5", 1000), Error);  // the caller's limit holds here too

  // A changed byte in the stored data is caught by the CRC, naming the archive and the entry.
  const auto at = std::search(bytes.begin(), bytes.end(), big.begin(), big.begin() + 64) - bytes.begin();
  ASSERT_LT(static_cast<size_t>(at), bytes.size());
  std::vector<uint8_t> flipped = bytes;
  flipped[static_cast<size_t>(at) + 1000] ^= 0x10;
  auto bad = io::ZipReader::from_memory(flipped, "flipped.zip");
  try {
    bad.read_shared("weights.h5", 1 << 20);
    ADD_FAILURE() << "a corrupt stored entry was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("flipped.zip: entry 'weights.h5'"), std::string::npos) << e.what();
  }

  // Deflated entries (as numpy's savez_compressed or a re-zipped .keras has them) are inflated.
  std::string deflated = (dir / "d.zip").string();
  {
    int code = 0;
    zip_t* z = zip_open(deflated.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
    ASSERT_NE(z, nullptr);
    zip_source_t* src = zip_source_buffer(z, big.data(), big.size(), 0);
    ASSERT_GE(zip_file_add(z, "weights.h5", src, 0), 0);
    ASSERT_EQ(zip_close(z), 0);
  }
  auto dz = io::ZipReader::from_file(deflated);
  io::SharedBytes inflated = dz.read_shared("weights.h5", 1 << 20);
  EXPECT_EQ(std::vector<uint8_t>(inflated.bytes.begin(), inflated.bytes.end()), big);
  std::filesystem::remove_all(dir);
}

// ---- HDF5 ---------------------------------------------------------------------------------------

TEST(Hdf5, GroupsDatasetsAndAttributes) {
  auto dir = temp_dir("h5");
  std::string path = (dir / "t.h5").string();
  {
    H5Writer w(path);
    w.group("model_weights/dense");
    w.fixed_strings("/", "layer_names", {"dense", "dropout"});
    w.vlen_string("/", "model_config", "{\"class_name\": \"Sequential\"}");
    w.number_attr("/", "epoch", 3);
    w.floats("model_weights/dense/dense/kernel:0", {2, 3}, {1, 2, 3, 4, 5, 6});
    w.dataset<double>("model_weights/dense/dense/bias:0", {3}, {0.5, -0.5, 1e-3}, H5T_NATIVE_DOUBLE);
    w.dataset<int32_t>("ints", {2}, {-7, 9}, H5T_NATIVE_INT32);
    w.dataset<uint16_t>("halfs", {2}, {0x3c00, 0xc400}, H5T_NATIVE_B16);  // not numeric: a bitfield
    w.floats("scalar", {}, {2.5f});
    w.floats("empty", {0, 4}, {});
    H5Lcreate_soft("/ints", w.id(), "soft_link", H5P_DEFAULT, H5P_DEFAULT);
  }
  auto file = io::H5File::open_file(path);
  io::H5Group root = file.root();
  EXPECT_EQ(root.attr_strings("layer_names"), (std::vector<std::string>{"dense", "dropout"}));
  EXPECT_EQ(root.attr_string("model_config"), std::optional<std::string>("{\"class_name\": \"Sequential\"}"));
  EXPECT_TRUE(root.has_attr("epoch"));
  EXPECT_THROW(root.attr_strings("epoch"), Error);  // a number, not a string
  EXPECT_FALSE(root.attr_string("nope").has_value());
  EXPECT_TRUE(root.has_group("model_weights/dense"));
  EXPECT_TRUE(root.has_dataset("model_weights/dense/dense/kernel:0"));
  EXPECT_FALSE(root.has_dataset("model_weights/dense"));
  io::H5Group g = root.group("model_weights").group("dense");
  EXPECT_EQ(g.path(), "model_weights/dense");
  EXPECT_EQ(g.children(), (std::vector<std::string>{"dense"}));
  io::H5Array k = g.read("dense/kernel:0");
  EXPECT_EQ(k.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(k.data, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(g.read("dense/bias:0").data, (std::vector<float>{0.5f, -0.5f, 1e-3f}));
  EXPECT_EQ(root.read("ints").data, (std::vector<float>{-7, 9}));
  EXPECT_EQ(root.read("scalar").shape, (std::vector<int64_t>{}));
  EXPECT_EQ(root.read("scalar").data, (std::vector<float>{2.5f}));
  EXPECT_EQ(root.read("empty").shape, (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(root.dataset_shape("halfs"), (std::vector<int64_t>{2}));
  EXPECT_THROW(root.read("halfs"), Error);
  EXPECT_THROW(root.read("missing"), Error);
  EXPECT_THROW(root.group("ints"), Error);
  EXPECT_FALSE(root.has_dataset("soft_link"));  // links are listed but not followed
  // Children come in name order.
  auto names = root.children();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  // The same file from memory.
  auto mem = io::H5File::open_memory(slurp(path), "mem.h5");
  EXPECT_EQ(mem.root().read("ints").data, (std::vector<float>{-7, 9}));
  EXPECT_EQ(mem.name(), "mem.h5");
  std::filesystem::remove_all(dir);
}

// Keras splits attributes over HDF5's 64 KiB object-header limit into name0, name1, ...
TEST(Hdf5, ChunkedAttributesAreJoined) {
  auto dir = temp_dir("h5chunk");
  std::string path = (dir / "c.h5").string();
  std::vector<std::string> first, second;
  for (int i = 0; i < 3; ++i) first.push_back("layer_" + std::to_string(i));
  for (int i = 3; i < 5; ++i) second.push_back("layer_" + std::to_string(i));
  {
    H5Writer w(path);
    w.group("g");
    w.fixed_strings("/", "layer_names0", first);
    w.fixed_strings("/", "layer_names1", second);
    w.fixed_strings("/g", "weight_names", {"a", "b"});
  }
  auto root = io::H5File::open_file(path).root();
  EXPECT_EQ(format::chunked_attr_strings(root, "layer_names"),
            (std::vector<std::string>{"layer_0", "layer_1", "layer_2", "layer_3", "layer_4"}));
  EXPECT_EQ(format::chunked_attr_strings(root.group("g"), "weight_names"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(format::chunked_attr_strings(root, "absent").empty());
  std::filesystem::remove_all(dir);
}

TEST(Hdf5, CorruptOrTruncatedFilesAreErrorsNamingTheFile) {
  auto dir = temp_dir("h5bad");
  std::string path = (dir / "t.h5").string();
  {
    H5Writer w(path);
    w.vlen_string("/", "model_config", std::string(300, 'x'));
    w.fixed_strings("/", "layer_names", {"dense"});
    std::vector<float> v(500);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
    w.floats("dense/kernel", {25, 20}, v);
  }
  auto bytes = slurp(path);
  EXPECT_THROW(io::H5File::open_memory(std::vector<uint8_t>{1, 2, 3}, "x.h5"), Error);
  int errors = 0;
  for (size_t cut = 0; cut < bytes.size(); cut += bytes.size() / 23 + 1) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    try {
      auto f = io::H5File::open_memory(part, "cut.h5");
      f.root().read("dense/kernel");
      f.root().attr_strings("model_config");
    } catch (const Error& e) {
      ++errors;
      EXPECT_NE(std::string(e.what()).find("cut.h5"), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(errors, 10);
  // Corrupt bytes anywhere: an Error or a clean read, never a crash.
  std::mt19937 rng(5);
  for (int round = 0; round < 30; ++round) {
    auto copy = bytes;
    for (int k = 0; k < 8; ++k) copy[rng() % copy.size()] = static_cast<uint8_t>(rng());
    try {
      auto f = io::H5File::open_memory(copy, "flipped.h5");
      if (f.root().has_dataset("dense/kernel")) f.root().read("dense/kernel");
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("flipped.h5"), std::string::npos) << e.what();
    }
  }
  std::filesystem::remove_all(dir);
}

// Files are read in child processes; several threads may do so at once.
TEST(Hdf5, ConcurrentOpensAgree) {
  auto dir = temp_dir("h5threads");
  std::string path = (dir / "t.h5").string();
  std::vector<float> values(3000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.5f;
  {
    H5Writer w(path);
    w.floats("a/b/c", {1000, 3}, values);
  }
  auto bytes = slurp(path);
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&] {
      for (int k = 0; k < 5; ++k)
        if (io::H5File::open_memory(bytes, "t.h5").root().read("a/b/c").data == values) ++good;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 30);
  std::filesystem::remove_all(dir);
}

// ---- error text ---------------------------------------------------------------------------------

TEST(Text, PrintableKeepsUtf8AndDropsControls) {
  EXPECT_EQ(io::printable("plain text"), "plain text");
  EXPECT_EQ(io::printable("two\nlines\r\t"), "two?lines??");
  EXPECT_EQ(io::printable("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(io::printable("bad \xff\xc3 end"), "bad ?? end");
  EXPECT_EQ(io::printable("\xed\xa0\x80"), "???");  // an encoded surrogate is not valid UTF-8
  EXPECT_EQ(io::printable(std::string(50, 'a'), 10), std::string(10, 'a') + "...");
}

}  // namespace
}  // namespace kerasrt::testing
