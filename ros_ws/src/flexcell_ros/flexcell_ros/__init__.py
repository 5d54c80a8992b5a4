"""flexcell's ROS 2 layer: nodes, conversions and bring-up (the only package that imports rclpy)."""
