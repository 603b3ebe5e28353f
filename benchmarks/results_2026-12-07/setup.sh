# sourced at the start of each device call: installs the wheels and the project (from the working tree)
START=$(date +%s); LIMIT=${LIMIT:-570}; export LIMIT START
left() { echo $(( LIMIT - ($(date +%s) - START) )); }
python3 -m pip install -q --no-index --no-deps --upgrade --target /tmp/dep .carry/py312/*.whl 2>&1 | tail -2
python3 -m pip install -q --no-deps --no-index .carry/wheels/*.whl 2>&1 | tail -2
python3 -m pip install -q --no-index --no-deps --no-build-isolation --upgrade --target /tmp/gm . 2>&1 | tail -2
export PYTHONPATH=/tmp/gm:/tmp/dep PATH=/tmp/gm/bin:$PATH
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, triton, mamba_ssm; print(torch.__version__, triton.__version__, mamba_ssm.__version__)"
if ! python3 -c "import genomamba_kernels, genomamba" 2>/dev/null; then  # the install failed (old setuptools?)
  echo "project install failed: the working tree on PYTHONPATH"; python3 -c "import setuptools; print('setuptools', setuptools.__version__)"
  mkdir -p /tmp/gk && ln -sfn "$PWD/kernels" /tmp/gk/genomamba_kernels
  export PYTHONPATH=$PWD:/tmp/gk:/tmp/dep
fi
python3 -c "import genomamba_kernels, genomamba; print('genomamba from', genomamba.__file__)"
