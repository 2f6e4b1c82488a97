/* The model registry: which architecture a checkpoint directory holds, picked
 * from its config.json (`architectures`, then `model_type`), in one table.
 * A checkpoint lepton cannot run is refused here, naming the field and value. */
#ifndef LP_MODELS_REGISTRY_H
#define LP_MODELS_REGISTRY_H

#include "kernels/status.h"

typedef enum lp_model_family {
    LP_FAMILY_BERT = 0,   /* BERT and its weight layout */
    LP_FAMILY_ROBERTA,    /* RoBERTa, XLM-RoBERTa, CamemBERT: BERT with offset positions */
    LP_FAMILY_DISTILBERT, /* DistilBERT: own weight names, no token types */
    LP_FAMILY_COUNT
} lp_model_family;

typedef enum lp_model_head {
    LP_HEAD_NONE = 0,     /* the bare encoder (BertModel ...): embeddings */
    LP_HEAD_SEQ_CLS,      /* ...ForSequenceClassification */
} lp_model_head;

typedef struct lp_model_kind {
    lp_model_family family;
    lp_model_head head;
    const char *architecture; /* the registry's spelling, e.g. "BertForSequenceClassification" */
} lp_model_kind;

/* `architecture` may be NULL (config.json without `architectures`: the bare
 * encoder of `model_type`). `model_type` may be NULL when `architecture` is
 * given. Fails with LP_ERR_UNSUPPORTED naming the field, its value and what is
 * supported. */
lp_status lp_model_registry_pick(const char *model_type, const char *architecture,
                                 lp_model_kind *out, lp_error *err);

const char *lp_model_family_name(lp_model_family family);

#endif
