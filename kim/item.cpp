// SPDX-License-Identifier: MIT
// The KIM collection-item record (shared-library schema version 2) of the
// mlshift driver or of one portable model made with it: what kim-api's own
// CMake macros generate from kim-api-items/item-wrapper.cpp.in, written out
// so that plain make builds the items (no CMake). C++ because the record
// holds KIM's C++ enumeration constants.
//
//   -DMLSHIFT_KIM_DRIVER                     the model driver "mlshift_driver"
//   -DMLSHIFT_KIM_MODEL=NAME -DMLSHIFT_KIM_PARAM=\"PATH\"
//                                            portable model NAME over the
//                                            driver, embedding the model
//                                            file PATH as its one parameter
//                                            file "model.mlshift"
#include <cstddef>

#include "KIM_CollectionItemType.hpp"
#include "KIM_FunctionTypes.hpp"
#include "KIM_LanguageName.hpp"
#include "KIM_SharedLibrarySchema.hpp"
extern "C" {
#include "KIM_FunctionTypes.h"
}

using namespace KIM::SHARED_LIBRARY_SCHEMA;

#define MLSHIFT_STR2(x) #x
#define MLSHIFT_STR(x) MLSHIFT_STR2(x)

extern "C" {
int kim_shared_library_schema_version = 2;

#ifdef MLSHIFT_KIM_DRIVER
KIM_ModelDriverCreateFunction mlshift_kim_driver_create;

SharedLibrarySchemaV2 kim_shared_library_schema = {
    KIM::COLLECTION_ITEM_TYPE::modelDriver,
    "mlshift_driver",
    KIM::LANGUAGE_NAME::c,
    reinterpret_cast<KIM::Function *>(mlshift_kim_driver_create),
    NULL,  // driver name: a driver has none
    NULL,  // simulator-model spec file
    0, NULL,
    0, NULL};
#else
// The model file, embedded byte for byte (the assembler reads it).
extern unsigned char const mlshift_kim_param[];
extern unsigned int const mlshift_kim_param_len;
__asm__(".section .rodata\n"
        ".global mlshift_kim_param\n"
        ".global mlshift_kim_param_len\n"
        ".balign 16\n"
        "mlshift_kim_param:\n"
        ".incbin \"" MLSHIFT_KIM_PARAM "\"\n"
        "mlshift_kim_param_end:\n"
        ".balign 4\n"
        "mlshift_kim_param_len:\n"
        ".long mlshift_kim_param_end - mlshift_kim_param\n"
        ".previous\n");

static SharedLibrarySchemaV2::EmbeddedFile const parameter_files[] = {
    {"model.mlshift", mlshift_kim_param_len, mlshift_kim_param}};

SharedLibrarySchemaV2 kim_shared_library_schema = {
    KIM::COLLECTION_ITEM_TYPE::portableModel,
    MLSHIFT_STR(MLSHIFT_KIM_MODEL),
    KIM::LANGUAGE_NAME::c,
    NULL,  // a parameterized model: the driver creates it
    "mlshift_driver",
    NULL,
    1, parameter_files,
    0, NULL};
#endif
}
