"""ament_python build of flexcell_ros for colcon sites (the venv installs it from the root pyproject)."""

from setuptools import setup

PACKAGE = "flexcell_ros"
# One console script per node of flexcell_ros.node_specs.NODES (a test keeps the two lists equal).
NODE_SCRIPTS = {
    "sim_cell": "flexcell_ros.sim_cell:main",
    "workflow_executor": "flexcell_ros.workflow_executor:main",
    "cell_manager": "flexcell_ros.cell_manager:main",
}

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[PACKAGE],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="flexcell team",
    maintainer_email="team@flexcell.dev",
    description="flexcell ROS 2 nodes: simulated cell, workflow executor, cell manager",
    license="Apache-2.0",
    entry_points={"console_scripts": [f"{name} = {target}" for name, target in NODE_SCRIPTS.items()]},
)
