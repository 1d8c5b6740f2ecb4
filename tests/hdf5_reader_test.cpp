// kerasrt's own HDF5 reader (src/io/hdf5_reader.cpp) against the HDF5 C library: the snapshot of
// every HDF5 file in ../shared (corpus, wild files, the weights inside every .keras archive) and of
// files written here with the features Keras files may use must be byte-identical both ways.
#include <hdf5.h>
#include <zip.h>

#include <fstream>

#include "harness.hpp"
#include "io/hdf5.hpp"
#include "io/hdf5_snapshot.hpp"
#include "io/zip.hpp"
#include "support/libhdf5_snapshot.hpp"

namespace kerasrt::testing {
namespace {

std::vector<uint8_t> slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Where the two snapshots first differ, or "".
std::string first_difference(const std::vector<uint8_t>& ours, const std::vector<uint8_t>& theirs) {
  if (ours == theirs) return "";
  size_t i = 0;
  while (i < ours.size() && i < theirs.size() && ours[i] == theirs[i]) ++i;
  auto around = [&](const std::vector<uint8_t>& b) {
    std::string s;
    for (size_t k = i; k < std::min(b.size(), i + 48); ++k) s += std::isprint(b[k]) ? static_cast<char>(b[k]) : '.';
    return s;
  };
  return "byte " + std::to_string(i) + " of " + std::to_string(ours.size()) + "/" + std::to_string(theirs.size()) +
         ": ours '" + around(ours) + "', libhdf5 '" + around(theirs) + "'";
}

TEST(Hdf5Reader, MatchesLibhdf5OnEverySharedFile) {
  KERASRT_REQUIRE_CORPUS();
  const std::filesystem::path shared = corpus_dir() / "..";
  int files = 0;
  for (const char* dir : {"keras-corpus", "keras-wild", "bench"}) {
    if (!std::filesystem::exists(shared / dir)) continue;
    for (const auto& e : std::filesystem::directory_iterator(shared / dir)) {
      const std::string p = e.path().string();
      std::vector<uint8_t> bytes = slurp(e.path());
      if (io::H5File::looks_like_hdf5(bytes)) {
        EXPECT_EQ(first_difference(io::hdf5_snapshot(bytes), libhdf5_snapshot(bytes)), "") << p;
        ++files;
      } else if (p.size() > 6 && p.substr(p.size() - 6) == ".keras") {
        io::ZipReader zip = io::ZipReader::from_memory(bytes, p);
        if (!zip.has("model.weights.h5")) continue;
        std::vector<uint8_t> w = zip.read("model.weights.h5", uint64_t{1} << 32);
        EXPECT_EQ(first_difference(io::hdf5_snapshot(w), libhdf5_snapshot(w)), "") << p << ":model.weights.h5";
        ++files;
      }
    }
  }
  EXPECT_GT(files, 700);
  std::cout << "HDF5 files compared with libhdf5: " << files << "\n";
}

// ---- files written with the C library ------------------------------------------------------------

struct H5 {
  hid_t id;
  herr_t (*close)(hid_t);
  ~H5() {
    if (id >= 0) close(id);
  }
};

// Writes a file with `latest` (superblock 3, v2 object headers, link-message groups) or the
// defaults, holding datasets of many types and layouts and string attributes of every kind.
std::vector<uint8_t> feature_file(const std::string& path, bool latest) {
  {
    H5 fapl{H5Pcreate(H5P_FILE_ACCESS), H5Pclose};
    if (latest) H5Pset_libver_bounds(fapl.id, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    H5 file{H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id), H5Fclose};
    H5 group{H5Gcreate2(file.id, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
    // New-style groups of more than 8 links go to dense storage, which the reader refuses (the
    // issue's scope is compact link messages): the datasets are spread over two groups.
    H5 inner{H5Gcreate2(group.id, "dense", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
    H5 more{H5Gcreate2(group.id, "more", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
    const hsize_t dims[2] = {37, 11};
    std::vector<double> values(37 * 11);
    for (size_t i = 0; i < values.size(); ++i) values[i] = std::sin(static_cast<double>(i)) * 1000.0 + 0.1;
    H5 space{H5Screate_simple(2, dims, nullptr), H5Sclose};
    int made = 0;
    auto dataset = [&](const char* name, hid_t type, hid_t dcpl) {
      H5 d{H5Dcreate2(made++ < 5 ? inner.id : more.id, name, type, space.id, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose};
      H5Dwrite(d.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    };
    dataset("f32", H5T_IEEE_F32LE, H5P_DEFAULT);
    dataset("f64be", H5T_IEEE_F64BE, H5P_DEFAULT);
    dataset("i16be", H5T_STD_I16BE, H5P_DEFAULT);
    dataset("u8", H5T_STD_U8LE, H5P_DEFAULT);
    dataset("i64", H5T_STD_I64LE, H5P_DEFAULT);
    {
      H5 half{H5Tcopy(H5T_IEEE_F32LE), H5Tclose};  // IEEE binary16
      H5Tset_fields(half.id, 15, 10, 5, 0, 10);
      H5Tset_size(half.id, 2);
      H5Tset_ebias(half.id, 15);
      dataset("f16", half.id, H5P_DEFAULT);
    }
    {
      H5 dcpl{H5Pcreate(H5P_DATASET_CREATE), H5Pclose};
      const hsize_t chunk[2] = {8, 4};
      H5Pset_chunk(dcpl.id, 2, chunk);
      H5Pset_shuffle(dcpl.id);
      H5Pset_deflate(dcpl.id, 6);
      dataset("deflated", H5T_IEEE_F32LE, dcpl.id);
      H5 plain{H5Pcreate(H5P_DATASET_CREATE), H5Pclose};
      H5Pset_chunk(plain.id, 2, chunk);
      dataset("chunked", H5T_IEEE_F32BE, plain.id);
      H5 one{H5Pcreate(H5P_DATASET_CREATE), H5Pclose};
      H5Pset_chunk(one.id, 2, dims);  // one chunk for the whole array
      dataset("one_chunk", H5T_IEEE_F32LE, one.id);
      H5 compact{H5Pcreate(H5P_DATASET_CREATE), H5Pclose};
      H5Pset_layout(compact.id, H5D_COMPACT);
      dataset("compact", H5T_IEEE_F32LE, compact.id);
    }
    {
      // 2100 one-element chunks: a multi-level v1 B-tree, or (latest) a paged fixed array.
      const hsize_t n = 2100, one = 1;
      std::vector<float> v(n);
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f;
      H5 s{H5Screate_simple(1, &n, nullptr), H5Sclose};
      H5 dcpl{H5Pcreate(H5P_DATASET_CREATE), H5Pclose};
      H5Pset_chunk(dcpl.id, 1, &one);
      H5 d{H5Dcreate2(group.id, "many_chunks", H5T_IEEE_F32LE, s.id, H5P_DEFAULT, dcpl.id, H5P_DEFAULT), H5Dclose};
      H5Dwrite(d.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    }
    // Attributes: a variable-length string, an array of them, fixed-length strings, a number.
    auto vlen_attr = [&](hid_t obj, const char* name, std::vector<const char*> strings, bool scalar) {
      H5 t{H5Tcopy(H5T_C_S1), H5Tclose};
      H5Tset_size(t.id, H5T_VARIABLE);
      H5Tset_cset(t.id, H5T_CSET_UTF8);
      const hsize_t n = strings.size();
      H5 s{scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose};
      H5 a{H5Acreate2(obj, name, t.id, s.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
      H5Awrite(a.id, t.id, strings.data());
    };
    vlen_attr(file.id, "keras_version", {"3.15.1"}, true);
    vlen_attr(file.id, "model_config", {"{\"class_name\": \"Functional\", \"config\": {\"layers\": []}}"}, true);
    vlen_attr(inner.id, "weight_names", {"dense/kernel:0", "dense/bias:0", ""}, false);
    {
      H5 t{H5Tcopy(H5T_C_S1), H5Tclose};
      H5Tset_size(t.id, 8);
      H5Tset_strpad(t.id, H5T_STR_NULLPAD);
      const hsize_t n = 3;
      H5 s{H5Screate_simple(1, &n, nullptr), H5Sclose};
      H5 a{H5Acreate2(group.id, "layer_names", t.id, s.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
      const char data[24] = "dense\0\0\0abcdefghx\0\0\0\0\0\0";
      H5Awrite(a.id, t.id, data);
      const double v = 2.5;
      H5 ns{H5Screate(H5S_SCALAR), H5Sclose};
      H5 na{H5Acreate2(group.id, "a_number", H5T_IEEE_F64LE, ns.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
      H5Awrite(na.id, H5T_NATIVE_DOUBLE, &v);
    }
    // More links than a compact new-style group holds would go dense; stay under that (8).
    for (int i = 0; i < 4; ++i) {
      H5 g{H5Gcreate2(file.id, ("g" + std::to_string(i)).c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
    }
    H5Lcreate_soft("/layers/dense/f32", file.id, "soft", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_hard(file.id, "/layers/dense/f32", file.id, "hard_again", H5P_DEFAULT, H5P_DEFAULT);
  }
  std::vector<uint8_t> bytes = slurp(path);
  std::filesystem::remove(path);
  return bytes;
}

TEST(Hdf5Reader, MatchesLibhdf5OnWrittenFeatures) {
  for (bool latest : {false, true}) {
    const std::string path =
        (std::filesystem::temp_directory_path() / ("kerasrt_h5features_" + std::to_string(::getpid()) + ".h5")).string();
    std::vector<uint8_t> bytes = feature_file(path, latest);
    ASSERT_FALSE(bytes.empty());
    std::vector<uint8_t> ours = io::hdf5_snapshot(bytes);
    EXPECT_EQ(first_difference(ours, libhdf5_snapshot(bytes)), "") << (latest ? "libver latest" : "defaults");
    io::H5File f = io::H5File::open_memory(bytes, "features.h5");
    io::H5Array a = f.root().read("layers/more/deflated");
    ASSERT_EQ(a.shape, (std::vector<int64_t>{37, 11}));
    EXPECT_FLOAT_EQ(a.data[5], static_cast<float>(std::sin(5.0) * 1000.0 + 0.1));
    EXPECT_EQ(f.root().attr_string("keras_version"), "3.15.1");
  }
}

// Every dataset of two opens of one file, compared: shapes and values.
void expect_same_tree(const io::H5Group& a, const io::H5Group& b, const std::string& where, int& datasets) {
  ASSERT_EQ(a.children(), b.children()) << where;
  for (const auto& c : a.children()) {
    if (a.has_group(c)) {
      expect_same_tree(a.group(c), b.group(c), where + "/" + c, datasets);
    } else if (a.has_dataset(c)) {
      bool readable = true;
      io::H5Array x;
      try {
        x = a.read(c);
      } catch (const Error&) {
        readable = false;
        EXPECT_THROW(b.read(c), Error) << where << "/" << c;
      }
      if (!readable) continue;
      io::H5Array y = b.read(c);
      EXPECT_EQ(x.shape, y.shape) << where << "/" << c;
      EXPECT_TRUE(x.data == y.data) << where << "/" << c;  // bit-identical (no NaN in these files)
      ++datasets;
    }
  }
}

// Loading reads float32 datasets in place from the file's bytes (and a .keras archive's stored
// weights entry in place from the archive): the values must be those the copying path gives.
TEST(Hdf5Reader, InPlaceValuesEqualCopiedValues) {
  KERASRT_REQUIRE_CORPUS();
  const std::filesystem::path shared = corpus_dir() / "..";
  int files = 0, datasets = 0, smaller = 0;
  for (const char* dir : {"keras-corpus", "keras-wild", "bench"}) {
    if (!std::filesystem::exists(shared / dir)) continue;
    for (const auto& e : std::filesystem::directory_iterator(shared / dir)) {
      const std::string p = e.path().string();
      auto bytes = std::make_shared<std::vector<uint8_t>>(slurp(e.path()));
      io::SharedBytes image{bytes, *bytes};
      if (!io::H5File::looks_like_hdf5(*bytes)) {
        if (p.size() < 6 || p.substr(p.size() - 6) != ".keras") continue;
        io::ZipReader zip = io::ZipReader::from_memory(*bytes, p);
        if (!zip.has("model.weights.h5")) continue;
        image = zip.read_shared("model.weights.h5", uint64_t{1} << 32);
      }
      std::vector<uint8_t> copied(image.bytes.begin(), image.bytes.end());
      io::H5File in_place, copy;
      try {
        copy = io::H5File::open_memory(copied, p);
      } catch (const Error&) {
        EXPECT_THROW(io::H5File::open_shared(image, p), Error) << p;
        continue;
      }
      in_place = io::H5File::open_shared(image, p);
      expect_same_tree(copy.root(), in_place.root(), p, datasets);
      if (io::hdf5_snapshot(image.bytes, false).size() * 2 < io::hdf5_snapshot(image.bytes).size()) ++smaller;
      ++files;
    }
  }
  EXPECT_GT(files, 700);
  EXPECT_GT(datasets, 4000);
  EXPECT_GT(smaller, 100);  // the values really stay in the image for weight-sized files
  std::cout << "HDF5 files read in place and by copy: " << files << ", datasets " << datasets << "\n";
}

// Truncated or bit-flipped images never crash the reader: each gives a snapshot or 'X'.
TEST(Hdf5Reader, DamagedImagesGiveErrors) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("kerasrt_h5damage_" + std::to_string(::getpid()) + ".h5")).string();
  const std::vector<uint8_t> good = feature_file(path, false);
  std::mt19937 rng(5);
  int refused = 0;
  for (int round = 0; round < 400; ++round) {
    std::vector<uint8_t> bad = good;
    if (round % 4 == 0) {
      bad.resize(std::uniform_int_distribution<size_t>(0, good.size())(rng));
    } else {
      for (int k = 0; k < 1 + round % 7; ++k)
        bad[std::uniform_int_distribution<size_t>(0, bad.size() - 1)(rng)] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    try {
      io::H5File f = io::H5File::open_memory(bad, "bad.h5");
      for (const auto& name : f.root().children()) (void)f.root().has_group(name);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("bad.h5"), std::string::npos) << e.what();
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace kerasrt::testing
