"""What pyproject.toml cannot say: the repo's experiments/ folder ships inside the package as
`workbench.examples`, so `workbench init` has the example files after a regular install too."""

from setuptools import find_namespace_packages, find_packages, setup

examples = ["workbench.examples"] + [f"workbench.examples.{p}" for p in find_namespace_packages("experiments")]
setup(packages=find_packages(include=["workbench*"]) + examples,
      package_dir={"workbench.examples": "experiments"})
