#include "dida/native/options.hpp"

namespace dida {

#define DIDA_TRAIN_FIELDS(X)                                                                                     \
  X(source) X(target) X(data_seed) X(max_per_domain) X(cache_dir) X(method) X(variant) X(progressive) X(pool) X(width) X(input_norm) X(decoder) X(decoder_norm) X(pixel_decoder_features) \
  X(head_hidden) X(mine_hidden) X(lambda_mi) X(lambda_adv) X(lambda_dom) X(lambda_rec) X(lambda_rel)             \
  X(lambda_orth) X(pixel_rec_weight) X(pixel_rec_stop_inv) X(dom_inference_bn) X(dom_inference_bn_trains) X(rec_inference_bn) X(pixel_loss) X(lambda_cons) X(cons_threshold) X(lambda_swap) X(swap_trains) X(lambda_critic) X(lambda_bal) X(augment_source) X(batch_norm) X(mine_ma_rate) X(grl_gamma) X(warmup_epochs) X(optimisation) X(optimizer) X(precision) X(lr) X(momentum) \
  X(weight_decay) X(anneal_lr) X(epochs) X(batch_size) X(iters_per_epoch) X(seed) X(replay) X(out) X(device) X(threads)

nlohmann::json TrainOptions::to_json() const {
  nlohmann::json j;
#define X(f) j[#f] = f;
  DIDA_TRAIN_FIELDS(X)
#undef X
  return j;
}

TrainOptions TrainOptions::from_json(const nlohmann::json& j) {
  TrainOptions o;
#define X(f) \
  if (j.contains(#f)) j.at(#f).get_to(o.f);
  DIDA_TRAIN_FIELDS(X)
#undef X
  if (!j.contains("lambda_bal")) o.lambda_bal = 0;  // recorded before L_bal existed: resume as it was trained
  return o;
}

}  // namespace dida
