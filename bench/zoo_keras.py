"""The zoo's Keras models, with seeded random weights (`weights=None`: no model hub), saved as
`.keras` files for tools/models/convert.py. Runs in the TensorFlow virtualenv (bench/zoo.py
calls it with that interpreter).

    python bench/zoo_keras.py OUT_DIR

Logits, not probabilities (`classifier_activation=None`): a random network's softmax is uniform
to the last bit, so comparing it would check nothing.
"""
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


def conv_bn_relu(x, filters, kernel=1, dilation=1):
    x = layers.Conv2D(filters, kernel, padding="same", dilation_rate=dilation, use_bias=False)(x)
    return layers.ReLU()(layers.BatchNormalization()(x))


def deeplab_lite(size=256, classes=21):
    """A DeepLabV3+-style segmenter: MobileNetV2 (alpha 0.35) features at strides 16 and 4, an
    atrous pyramid (1x1, dilated 3x3 depthwise, image pooling), bilinear upsampling back to the
    input size. What tf2onnx makes of it is the TensorFlow mix the zoo needs: NHWC Transposes,
    Pad (ZeroPadding2D), dilated depthwise convolutions, bilinear Resize at two scales."""
    base = keras.applications.MobileNetV2(input_shape=(size, size, 3), alpha=0.35, include_top=False, weights=None)
    high = base.get_layer("block_13_expand_relu").output
    low = base.get_layer("block_3_expand_relu").output
    branches = [conv_bn_relu(high, 64)]
    atrous = layers.DepthwiseConv2D(3, padding="same", dilation_rate=6, use_bias=False)(high)
    branches.append(conv_bn_relu(layers.ReLU()(layers.BatchNormalization()(atrous)), 64))
    pooled = conv_bn_relu(layers.GlobalAveragePooling2D(keepdims=True)(high), 64)
    branches.append(layers.UpSampling2D(size // 16, interpolation="bilinear")(pooled))
    x = conv_bn_relu(layers.Concatenate()(branches), 64)
    x = layers.UpSampling2D(4, interpolation="bilinear")(x)
    x = layers.Concatenate()([x, conv_bn_relu(low, 24)])
    x = conv_bn_relu(x, 64, 3)
    x = layers.UpSampling2D(4, interpolation="bilinear")(x)
    return keras.Model(base.input, layers.Conv2D(classes, 1)(x), name="deeplab_lite")


def normalize_activations(model, x):
    """Sets each BatchNormalization's moving statistics to those of its input on `x`, in graph
    order. With `weights=None` every BN is the identity and the signal shrinks layer by layer:
    MobileNetV2's logits come out near 1e-13, where int8 calibration and float timings (denormals)
    mean nothing. Normalized, activations keep the scale a trained network has."""
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            inputs = keras.Model(model.input, layer.input)(x, training=False).numpy()
            axes = tuple(range(inputs.ndim - 1))
            gamma, beta, _, _ = layer.get_weights()
            layer.set_weights([gamma, beta, inputs.mean(axis=axes), inputs.var(axis=axes) + 1e-3])
    return np.abs(model(x, training=False).numpy()).max()


MODELS = {
    # name -> (builder, input range): MobileNetV3 rescales [0, 255] itself, the others take [-1, 1].
    "mobilenet-v3-small": (lambda: keras.applications.MobileNetV3Small(
        input_shape=(224, 224, 3), weights=None, classifier_activation=None), (0, 255)),
    "mobilenet-v2": (lambda: keras.applications.MobileNetV2(
        input_shape=(224, 224, 3), weights=None, classifier_activation=None), (-1, 1)),
    "deeplab-lite": (deeplab_lite, (-1, 1)),
}


def main(out):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, (build, (low, high)) in MODELS.items():
        keras.utils.set_random_seed(20261207)
        model = build()
        x = np.random.default_rng(0).uniform(low, high, (8, *model.input.shape[1:])).astype("float32")
        largest = normalize_activations(model, x)
        model.save(out / f"{name}.keras")
        print(f"zoo: {name}.keras (largest output on random input: {largest:.3g})")


if __name__ == "__main__":
    main(sys.argv[1])
