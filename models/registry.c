/* One table from config.json's `architectures` / `model_type` to what lepton runs. */
#include "models/registry.h"

#include <string.h>

typedef struct arch_entry {
    const char *architecture;
    const char *model_type; /* the model_type that architecture goes with */
    lp_model_family family;
    lp_model_head head;
} arch_entry;

static const arch_entry ARCHITECTURES[] = {
    {"BertModel", "bert", LP_FAMILY_BERT, LP_HEAD_NONE},
    {"BertForSequenceClassification", "bert", LP_FAMILY_BERT, LP_HEAD_SEQ_CLS},
    {"RobertaModel", "roberta", LP_FAMILY_ROBERTA, LP_HEAD_NONE},
    {"RobertaForSequenceClassification", "roberta", LP_FAMILY_ROBERTA, LP_HEAD_SEQ_CLS},
    {"XLMRobertaModel", "xlm-roberta", LP_FAMILY_ROBERTA, LP_HEAD_NONE},
    {"XLMRobertaForSequenceClassification", "xlm-roberta", LP_FAMILY_ROBERTA, LP_HEAD_SEQ_CLS},
    {"CamembertModel", "camembert", LP_FAMILY_ROBERTA, LP_HEAD_NONE},
    {"CamembertForSequenceClassification", "camembert", LP_FAMILY_ROBERTA, LP_HEAD_SEQ_CLS},
    {"DistilBertModel", "distilbert", LP_FAMILY_DISTILBERT, LP_HEAD_NONE},
    {"DistilBertForSequenceClassification", "distilbert", LP_FAMILY_DISTILBERT, LP_HEAD_SEQ_CLS},
};
#define N_ARCH (sizeof ARCHITECTURES / sizeof ARCHITECTURES[0])

static const char *const FAMILY_NAMES[LP_FAMILY_COUNT] = {"bert", "roberta", "distilbert"};

const char *lp_model_family_name(lp_model_family family) {
    return (unsigned)family < LP_FAMILY_COUNT ? FAMILY_NAMES[family] : "?";
}

lp_status lp_model_registry_pick(const char *model_type, const char *architecture,
                                 lp_model_kind *out, lp_error *err) {
    if (architecture) {
        for (size_t i = 0; i < N_ARCH; i++) {
            if (strcmp(ARCHITECTURES[i].architecture, architecture)) continue;
            if (model_type && strcmp(model_type, ARCHITECTURES[i].model_type))
                return lp_fail(err, LP_ERR_UNSUPPORTED,
                               "architectures[0] = \"%s\" does not go with "
                               "model_type = \"%s\" (expected \"%s\")",
                               architecture, model_type, ARCHITECTURES[i].model_type);
            *out = (lp_model_kind){ARCHITECTURES[i].family, ARCHITECTURES[i].head,
                                   ARCHITECTURES[i].architecture};
            return LP_OK;
        }
        return lp_fail(err, LP_ERR_UNSUPPORTED,
                       "architectures[0] = \"%s\" is not supported; lepton runs "
                       "BertModel, RobertaModel, XLMRobertaModel, CamembertModel, DistilBertModel "
                       "and their ...ForSequenceClassification variants",
                       architecture);
    }
    if (!model_type)
        return lp_fail(err, LP_ERR_UNSUPPORTED,
                       "neither \"architectures\" nor \"model_type\" is set: cannot tell "
                       "which model this is");
    for (size_t i = 0; i < N_ARCH; i++) {
        if (ARCHITECTURES[i].head != LP_HEAD_NONE || strcmp(ARCHITECTURES[i].model_type, model_type))
            continue;
        *out = (lp_model_kind){ARCHITECTURES[i].family, LP_HEAD_NONE, ARCHITECTURES[i].architecture};
        return LP_OK;
    }
    return lp_fail(err, LP_ERR_UNSUPPORTED,
                   "model_type = \"%s\" is not supported (supported: bert, roberta, "
                   "xlm-roberta, camembert, distilbert)",
                   model_type);
}
