"""ament_python entry for sites that build the repository with colcon (metadata lives in pyproject.toml)."""

from setuptools import setup

setup(
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/flexcell"]),
        ("share/flexcell", ["package.xml"]),
        ("share/flexcell/launch", ["launch/flexcell.launch.py"]),
    ],
)
