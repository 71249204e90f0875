#include "train_flags.hpp"

namespace dida::cli {
namespace {

std::string type_name(const OptionRow& row) {
  using T = OptionRow::Type;
  if (row.type == T::Choice) {
    std::string all;
    for (const auto& c : row.choices) all += (all.empty() ? "" : "|") + c;
    return all;
  }
  return row.type == T::Double ? "X" : row.type == T::Text ? "TEXT" : "N";
}

// ", dida: X" for each method with its own default.
std::string method_defaults(const OptionRow& row) {
  std::string s;
  for (const auto& [m, v] : row.method_defaults)
    s += ", " + name_of(m) + ": " + (v.is_boolean() ? (v.get<bool>() ? "on" : "off") : v.is_string() ? v.get<std::string>() : v.dump());
  return s;
}

}  // namespace

void TrainFlags::add_to(CLI::App* cmd, const std::set<std::string>& except) {
  const TrainOptions defaults;
  for (const auto& row : train_option_table()) {
    if (!row.flag || except.count(row.name)) continue;
    CLI::Option* opt = nullptr;
    if (row.type == OptionRow::Type::Bool) {
      bools_[row.name] = row.get(defaults).get<bool>();
      opt = cmd->add_flag("--" + row.name + ",!--no-" + row.name, bools_[row.name],
                          row.help + " (default: " + (bools_[row.name] ? "on" : "off") + method_defaults(row) + ")");
      opt->default_str("");
    } else {
      const OptionRow* r = &row;
      const auto value = row.get(defaults);
      opt = cmd->add_option("--" + row.name, texts_[row.name], row.help + (row.method_defaults.empty() ? "" : " (" + method_defaults(row).substr(2) + ")"))
                ->type_name(type_name(row))
                ->default_str(value.is_string() ? value.get<std::string>() : value.dump())
                ->check(CLI::Validator(
                    [r](std::string& v) {
                      try {
                        r->parse(v);
                        return std::string();
                      } catch (const std::exception& e) {
                        const std::string what = e.what();
                        return what.substr(what.find(": ") + 2);
                      }
                    },
                    ""));
    }
    opt->group(row.group);
    given_.emplace_back(&row, opt);
  }
}

std::set<std::string> TrainFlags::given() const {
  std::set<std::string> names;
  for (const auto& [row, opt] : given_)
    if (opt->count() > 0) names.insert(row->name);
  return names;
}

std::vector<const OptionRow*> TrainFlags::apply(TrainOptions& o) {
  std::vector<const OptionRow*> rows;
  for (const auto& [row, opt] : given_) {
    if (opt->count() == 0) continue;
    row->set(o, row->type == OptionRow::Type::Bool ? nlohmann::json(bools_[row->name]) : row->parse(texts_[row->name]));
    rows.push_back(row);
  }
  return rows;
}

}  // namespace dida::cli
