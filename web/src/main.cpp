// dida's canvas app: Dear ImGui over GLFW and WebGL2, compiled to WebAssembly.
// The page (site/app.js) reads the app's state through dida_state_json() for tests and readouts.
#include <GLES3/gl3.h>
#include <GLFW/glfw3.h>
#include <emscripten/emscripten.h>
#include <emscripten/html5.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dida/version.hpp"
#include "explorer.hpp"
#include "imgui.h"
#include "imgui_impl_glfw.h"
#include "imgui_impl_opengl3.h"

namespace {

struct App {
  GLFWwindow* window = nullptr;
  long frames = 0;
  std::string state_json;
};

App g_app;
int g_canvas_w = 1280, g_canvas_h = 800;  // the canvas's drawing buffer
float g_scale = 1.f;  // device pixel ratio: ImGui works in device pixels, sizes are scaled by it
dida::web::Explorer g_explorer;
std::string g_load_error;

// Milliseconds of work in frame() (ImGui, the explorer, GL calls), averaged over the last 60 frames.
double g_frame_ms[60] = {0};
double g_render_ms[60] = {0};  // of which: handing the draw lists to WebGL
int g_vertices = 0;      // vertices drawn (last frame)
double mean_of_last(const double* ms) {
  const long n = std::min<long>(g_app.frames, 60);
  double sum = 0;
  for (long i = 0; i < n; ++i) sum += ms[i];
  return n ? sum / static_cast<double>(n) : 0.0;
}

void update_state_json() {
  nlohmann::json s = {
      {"version", dida::version()},
      {"build", dida::build_kind()},
      {"frames", g_app.frames},
      {"frame_ms", mean_of_last(g_frame_ms)},
      {"render_ms", mean_of_last(g_render_ms)},
      {"vertices", g_vertices},
      {"device_pixel_ratio", g_scale},
      {"canvas", {g_canvas_w, g_canvas_h}},
      {"explorer", g_explorer.state()},
      {"load_error", g_load_error},
  };
  g_app.state_json = s.dump();
}

// The canvas follows its CSS size, at the device pixel ratio so text is crisp on HiDPI screens.
// ImGui works in device pixels (Emscripten's GLFW reports the mouse in canvas pixels), with the
// font and style scaled by the ratio. glfwSetWindowSize is not used: Emscripten's GLFW turns a
// window as large as the screen into a fullscreen (and pointer-lock) request.
void apply_ui_scale(float scale) {
  g_scale = scale;
  ImGuiStyle style;
  ImGui::StyleColorsDark(&style);
  style.ScaleAllSizes(scale);
  style.Colors[ImGuiCol_WindowBg].w = 1.f;  // opaque: windows may overlap (phones)
  ImGui::GetStyle() = style;
  ImGuiIO& io = ImGui::GetIO();
  io.Fonts->Clear();
  ImFontConfig font;
  font.SizePixels = std::round(13.f * scale);
  io.Fonts->AddFontDefault(&font);
  ImGui_ImplOpenGL3_DestroyFontsTexture();
  ImGui_ImplOpenGL3_CreateFontsTexture();
  g_explorer.set_ui_scale(scale);
}

void sync_canvas_size() {
  const float dpr = std::clamp(static_cast<float>(emscripten_get_device_pixel_ratio()), 1.f, 4.f);
  if (std::abs(dpr - g_scale) > 1e-3f) apply_ui_scale(dpr);
  double css_w = 0, css_h = 0;
  emscripten_get_element_css_size("#canvas", &css_w, &css_h);
  const int want_w = static_cast<int>(std::lround(css_w * dpr)), want_h = static_cast<int>(std::lround(css_h * dpr));
  int w = 0, h = 0;
  emscripten_get_canvas_element_size("#canvas", &w, &h);
  if (want_w >= 1 && want_h >= 1 && (w != want_w || h != want_h)) emscripten_set_canvas_element_size("#canvas", want_w, want_h);
  emscripten_get_canvas_element_size("#canvas", &g_canvas_w, &g_canvas_h);
}

void frame() {
  const double t_start = emscripten_get_now();
  sync_canvas_size();
  glfwPollEvents();
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  ImGui::GetIO().DisplaySize = ImVec2(static_cast<float>(g_canvas_w), static_cast<float>(g_canvas_h));
  ImGui::GetIO().DisplayFramebufferScale = ImVec2(1, 1);
  ImGui::NewFrame();

  g_explorer.begin_frame();
  g_explorer.draw();

  ImGui::Render();
  const double t_render = emscripten_get_now();
  glViewport(0, 0, g_canvas_w, g_canvas_h);
  glClearColor(0.09f, 0.10f, 0.12f, 1.0f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  g_frame_ms[g_app.frames % 60] = emscripten_get_now() - t_start;
  g_render_ms[g_app.frames % 60] = emscripten_get_now() - t_render;
  const ImDrawData* dd = ImGui::GetDrawData();
  g_vertices = dd ? dd->TotalVtxCount : 0;
  ++g_app.frames;
  update_state_json();
}

}  // namespace

extern "C" {
// The app's state as JSON, for the page's scripts and the browser tests.
EMSCRIPTEN_KEEPALIVE const char* dida_state_json() { return g_app.state_json.c_str(); }

// Loads a model bundle and a sample set that the page fetched; returns "" or a one-line error.
EMSCRIPTEN_KEEPALIVE const char* dida_load(const char* config, int config_len, const std::uint8_t* weights, int weights_len,
                                           const std::uint8_t* samples, int samples_len, const char* origin) {
  g_load_error = g_explorer.load(std::string(config, static_cast<std::size_t>(config_len)),
                                 std::vector<std::uint8_t>(weights, weights + weights_len),
                                 std::vector<std::uint8_t>(samples, samples + samples_len), origin);
  update_state_json();
  return g_load_error.c_str();
}

// A second model on the same samples, shown under the first (side by side); index: its picker
// entry. Returns "" or a one-line error. dida_close_compare: back to one model.
EMSCRIPTEN_KEEPALIVE const char* dida_load_compare(const char* config, int config_len, const std::uint8_t* weights, int weights_len,
                                                   const std::uint8_t* samples, int samples_len, const char* origin, int index) {
  static std::string error;
  error = g_explorer.load_compare(std::string(config, static_cast<std::size_t>(config_len)),
                                  std::vector<std::uint8_t>(weights, weights + weights_len),
                                  std::vector<std::uint8_t>(samples, samples + samples_len), origin, index);
  update_state_json();
  return error.c_str();
}
EMSCRIPTEN_KEEPALIVE void dida_close_compare() { g_explorer.close_compare(); }

// The model's training replay (replay.safetensors, fetched when asked for): "" or a one-line error.
EMSCRIPTEN_KEEPALIVE const char* dida_load_replay(const std::uint8_t* bytes, int len, const char* origin) {
  static std::string error;
  error = g_explorer.load_replay(std::vector<std::uint8_t>(bytes, bytes + len), origin);
  update_state_json();
  return error.c_str();
}

// The live view: a training run's replay.jsonl and log.jsonl as they are now: "" or a one-line error.
EMSCRIPTEN_KEEPALIVE const char* dida_load_run_replay(const char* layouts, const char* log, const char* origin) {
  static std::string error;
  error = g_explorer.load_run_replay(layouts, log, origin);
  update_state_json();
  return error.c_str();
}

// 0: PCA, 1: t-SNE (computed by the core, a few iterations per frame).
EMSCRIPTEN_KEEPALIVE void dida_set_projection(int tsne) { g_explorer.set_projection(tsne != 0); }

// Sample i's thumbnail rectangle in CSS pixels, as JSON [x, y, w, h] (empty before it is drawn).
EMSCRIPTEN_KEEPALIVE const char* dida_thumbnail_json(int i) {
  static std::string out;
  auto r = g_explorer.thumbnail_rect(i);
  for (auto& v : r) v /= g_scale;
  out = nlohmann::json(r).dump();
  return out.c_str();
}

// The model picker's entries (a JSON array of names) and the one loaded.
// names_json: a JSON array of labels; an entry that is not text is shown as its JSON, and text that
// is not JSON leaves the picker as it was (an exception must not escape into JavaScript).
EMSCRIPTEN_KEEPALIVE void dida_set_models(const char* names_json, int current) {
  const auto j = nlohmann::json::parse(names_json, nullptr, false);
  if (!j.is_array()) return;
  std::vector<std::string> names;
  for (const auto& n : j) names.push_back(n.is_string() ? n.get<std::string>() : n.dump());
  g_explorer.set_models(std::move(names), current);
}

// The samples as the model's input (N x C x S x S floats), for ONNX Runtime Web.
EMSCRIPTEN_KEEPALIVE const float* dida_input() { return g_explorer.input().data.data(); }
EMSCRIPTEN_KEEPALIVE int dida_input_length() { return static_cast<int>(g_explorer.input().data.size()); }

// ONNX Runtime Web's outputs on dida_input(): probs, z_inv and z_spe maps; ms: its latency.
EMSCRIPTEN_KEEPALIVE void dida_set_ort_outputs(double ms, int threads, const float* probs, const float* z_inv,
                                               const float* z_spe) {
  g_explorer.set_ort_outputs(ms, threads, probs, z_inv, z_spe);
  update_state_json();
}
EMSCRIPTEN_KEEPALIVE void dida_set_ort_status(const char* status) { g_explorer.set_ort_status(status); }

// ONNX Runtime Web's swap.onnx outputs for the swap grid's cells; ms: its latency.
EMSCRIPTEN_KEEPALIVE void dida_set_ort_swap(double ms, const float* swap) {
  g_explorer.set_ort_swap(ms, swap);
  update_state_json();
}

// 0: the core drives the page, 1: ONNX Runtime Web (once its outputs arrived).
EMSCRIPTEN_KEEPALIVE void dida_use_engine(int engine) {
  g_explorer.use_engine(engine == 1 ? dida::web::Explorer::kOrt : dida::web::Explorer::kCore);
  update_state_json();
}

// The walkthrough's chapter k (1..6; 0: the free explorer), as ?chapter=k asks.
EMSCRIPTEN_KEEPALIVE void dida_open_chapter(int k) {
  g_explorer.open_chapter(k);
  update_state_json();
}

// One of your images, decoded by the browser (RGBA, width x height): "" or a one-line error.
EMSCRIPTEN_KEEPALIVE const char* dida_add_user_rgba(const char* name, const std::uint8_t* rgba, int width, int height) {
  static std::string error;
  const std::size_t n = width > 0 && height > 0 ? static_cast<std::size_t>(width) * height * 4 : 0;
  error = g_explorer.add_user_rgba(name, std::vector<std::uint8_t>(rgba, rgba + n), width, height);
  update_state_json();
  return error.c_str();
}

// Your images as the model's input (N x C x S x S floats) and their version, for ONNX Runtime Web;
// its probs come back through dida_set_ort_user (ignored if the images changed meanwhile).
EMSCRIPTEN_KEEPALIVE const float* dida_user_input() { return g_explorer.user_input().data.data(); }
EMSCRIPTEN_KEEPALIVE int dida_user_count() { return g_explorer.user_input().n; }
EMSCRIPTEN_KEEPALIVE int dida_user_version() { return g_explorer.user_version(); }
EMSCRIPTEN_KEEPALIVE void dida_set_ort_user(int count, int version, const float* probs) {
  g_explorer.set_ort_user(count, version, probs);
  update_state_json();
}

// The swap grid's inputs, cell by cell (N x C x S x S floats each), for swap.onnx.
EMSCRIPTEN_KEEPALIVE const float* dida_swap_content() { return g_explorer.model().swap_content().data.data(); }
EMSCRIPTEN_KEEPALIVE const float* dida_swap_style() { return g_explorer.model().swap_style().data.data(); }
EMSCRIPTEN_KEEPALIVE int dida_swap_cells() { return g_explorer.model().swap_content().n; }

// The style mixer: t in [0, 1], and which two swap-grid columns (0-based) are its styles A and B.
EMSCRIPTEN_KEEPALIVE void dida_set_mix(double t) {
  g_explorer.set_mix(t);
  update_state_json();
}
EMSCRIPTEN_KEEPALIVE void dida_set_mix_columns(int a, int b) {
  g_explorer.set_mix_columns(a, b);
  update_state_json();
}
// The mixer's decoder inputs (each row's z_inv, N copies of the mixed code; shapes in the state's
// "mix") for decoder.onnx; its row comes back through dida_set_ort_mix with the mix's version
// (ignored if the mix moved meanwhile).
EMSCRIPTEN_KEEPALIVE const float* dida_mix_z_inv() { return g_explorer.model().mixer().z_inv().data.data(); }
EMSCRIPTEN_KEEPALIVE const float* dida_mix_z_spe() { return g_explorer.model().mixer().mixed_z_spe().data.data(); }
EMSCRIPTEN_KEEPALIVE int dida_mix_version() { return g_explorer.model().mixer().version(); }
EMSCRIPTEN_KEEPALIVE void dida_set_ort_mix(double ms, int version, const float* row) {
  g_explorer.set_ort_mix(ms, version, row);
  update_state_json();
}

// Median ms of the core's forward pass over `batch` images (benchmarks).
EMSCRIPTEN_KEEPALIVE double dida_bench_core(int batch, int reps) { return g_explorer.bench_core(batch, reps); }
}

int main() {
  if (!glfwInit()) {
    std::fprintf(stderr, "dida: glfwInit failed\n");
    return 1;
  }
  glfwWindowHint(GLFW_CLIENT_API, GLFW_OPENGL_ES_API);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
  g_app.window = glfwCreateWindow(1280, 800, "dida", nullptr, nullptr);
  if (!g_app.window) {
    std::fprintf(stderr, "dida: cannot create a WebGL2 context\n");
    return 1;
  }
  glfwMakeContextCurrent(g_app.window);
  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;  // no imgui.ini in the browser
  // Emscripten's GLFW maps cursor changes to pointer-lock requests, which browsers refuse
  // without a gesture: leave the cursor to the page.
  ImGui::GetIO().ConfigFlags |= ImGuiConfigFlags_NoMouseCursorChange;
  ImGui_ImplGlfw_InitForOpenGL(g_app.window, true);
  ImGui_ImplOpenGL3_Init("#version 300 es");
  ImGui_ImplOpenGL3_CreateDeviceObjects();
  apply_ui_scale(std::clamp(static_cast<float>(emscripten_get_device_pixel_ratio()), 1.f, 4.f));
  update_state_json();
  emscripten_set_main_loop(frame, 0, false);
  return 0;
}
